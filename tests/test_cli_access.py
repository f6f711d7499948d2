"""Accounts, roles and integrity through the command line, on SQLite and PostgreSQL: each rule
of ``calibrate.access`` tried and broken from the CLI (issue #10).

Two issuers (``alpha``, ``beta``) each own a copy of a small rubric; alpha's ratings carry
hostile keys (cells a spreadsheet would run as formulas). Accounts: an administrator of each
issuer, an assessor and a lead of alpha, a board reviewer granted alpha. Logins go through
``calibrate login --password-stdin`` into a session file of the test's own.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from calibrate import store
from calibrate.services.exports import FORMULA_STARTS, neutralise
from tests.conftest import DEMO_RUBRIC, Result

PASSWORD = "correct-horse-battery"
HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-1+2", "@SUM(1)"]
"""Keys of alpha's ratings file that a spreadsheet would run as formulas (tab- and CR-led keys
are refused by the import: control characters; :func:`test_neutralise` covers them)."""


@dataclass
class Store:
    """A store with two issuers' rubrics, alpha's ratings and one account per role."""

    url: str
    dir: Path
    run: Callable[..., Result]
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return self.run(*args, db=self.url, cwd=self.dir)

    def login(self, user: str, password: str = PASSWORD) -> Result:
        return self("login", "--user", user, "--password-stdin", stdin=password + "\n")

    def as_(self, user: str) -> None:
        out = self.login(user)
        assert out.returncode == 0, out.stderr

    def logout(self) -> None:
        assert self("logout").returncode == 0


def ratings_file() -> str:
    """Three assessors on four submissions, both criteria; alpha's own keys are hostile."""
    rows = ["submission,assessor,criterion,score"]
    scores = {"A1": [3, 2, 3, 1], "A2": [3, 2, 2, 1], "A3": [2, 2, 3, 1]}
    submissions = ["S1", "S2", HOSTILE[0], HOSTILE[2]]
    assessors = {"A1": "A1", "A2": HOSTILE[1], "A3": HOSTILE[3]}
    for key, values in scores.items():
        for sub, value in zip(submissions, values, strict=True):
            for criterion in ("plan", "reflect"):
                cells = [sub, assessors[key], criterion, str(value)]
                rows.append(",".join(f'"{c}"' if "'" in c or "," in c else c for c in cells))
    return "\n".join(rows) + "\n"


@pytest.fixture
def s(
    db_url: str,
    tmp_path: Path,
    calibrate: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> Store:
    monkeypatch.setenv("CALIBRATE_SESSION_FILE", str(tmp_path / "config" / "session.json"))
    monkeypatch.delenv("CALIBRATE_DEMO", raising=False)
    for issuer, rubric in (("alpha", "demo"), ("beta", "other")):
        (tmp_path / issuer).mkdir()
        text = DEMO_RUBRIC.replace("id: demo", f"id: {rubric}")
        (tmp_path / issuer / f"{rubric}.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "r.csv").write_text(ratings_file(), encoding="utf-8")
    st = Store(db_url, tmp_path, calibrate, monkeypatch)
    for args in (
        ("import", "rubrics", "alpha", "--issuer", "alpha"),
        ("import", "rubrics", "beta", "--issuer", "beta"),
        ("import", "ratings", "r.csv", "--rubric", "demo"),
    ):
        out = st(*args)
        assert out.returncode == 0, out.stderr
    pw = PASSWORD + "\n"
    for args in (
        ("accounts", "create-admin", "admin-a", "--issuer", "alpha", "--password-stdin"),
        ("accounts", "create-admin", "admin-b", "--issuer", "beta", "--password-stdin"),
        ("accounts", "add", "asr", "--role", "assessor", "--issuer", "alpha", "--assessor", "A1"),
        ("accounts", "add", "lead", "--role", "lead", "--issuer", "alpha", "--assessor", "+1"),
        ("accounts", "add", "brd", "--role", "board", "--grant", "alpha"),
    ):
        out = st(*args, *(() if "--password-stdin" in args else ("--password-stdin",)), stdin=pw)
        assert out.returncode == 0, out.stderr
    return st


def refused(out: Result, *words: str) -> None:
    """Refused in one line, exit 1, no traceback."""
    assert out.returncode == 1, out.stdout
    first = out.stderr.splitlines()[0]
    assert first.startswith("error: ") and "Traceback" not in out.stderr
    for word in words:
        assert word in first, (word, first)


def test_without_a_login_the_cli_is_the_operator(s: Store) -> None:
    who = json.loads(s("whoami", "--json").stdout)
    assert who["operator"] is True and who["role"] == "operator"
    assert who["name"].startswith("operator:")
    events = json.loads(s("audit", "--json").stdout)["events"]
    assert {e["actor"] for e in events} == {who["name"]}
    assert {"definitions.import", "ratings.import", "account.create"} <= {
        e["action"] for e in events
    }


def test_an_assessor_reaches_none_of_the_others_ratings(s: Store) -> None:
    s.as_("asr")
    who = json.loads(s("whoami", "--json").stdout)
    assert (who["name"], who["role"], who["issuer"]) == ("asr", "assessor", "alpha")
    denied = [
        ("accuracy", "--rubric", "demo"),
        ("agreement", "--rubric", "demo"),
        ("raters", "--rubric", "demo"),
        ("gstudy", "--rubric", "demo"),
        ("history", "1"),
        ("correct", "1", "1", "--reason", "mine"),
        ("export", "ratings", "--rubric", "demo"),
        ("audit",),
        ("verify",),
        ("accounts", "list"),
    ]
    for args in denied:
        refused(s(*args), "asr (assessor) may not")
    refused(
        s("accounts", "add", "x", "--role", "assessor", "--assessor", "Z", "--password-stdin"),
        "may not",
    )
    refused(s("import", "ratings", "r.csv", "--rubric", "demo"), "may not")
    s.logout()
    assert json.loads(s("status", "--json").stdout)["rating"] == 24  # nothing was written


def test_an_issuer_admin_stays_in_their_issuer(s: Store) -> None:
    s.as_("admin-b")
    for args in (
        ("agreement", "--rubric", "demo"),
        ("accuracy", "--rubric", "demo"),
        ("export", "ratings", "--rubric", "demo"),
    ):
        refused(s(*args), "rubric 'demo' is not in the store (stored: other@1)")
    refused(s("history", "1"), "no rating with id 1")
    refused(s("correct", "1", "1", "--reason", "x"), "no rating with id 1")
    refused(
        s(
            "accounts", "add", "spy", "--role", "assessor", "--issuer", "alpha",
            "--assessor", "A9", "--password-stdin", stdin=PASSWORD + "\n",
        ),
        "admin-b may add accounts of issuer 'beta' only",
    )  # fmt: skip
    refused(s("accounts", "disable", "asr"), "no account 'asr'")
    refused(s("accounts", "grant", "brd", "alpha"), "no access to issuer 'alpha'")
    refused(s("import", "rubrics", "alpha", "--issuer", "alpha"), "imports for issuer 'beta'")
    listed = json.loads(s("accounts", "list", "--json").stdout)["accounts"]
    assert [a["username"] for a in listed] == ["admin-b"]
    assert all(e["issuer"] == "beta" for e in json.loads(s("audit", "--json").stdout)["events"])
    s.logout()
    s.as_("admin-a")
    assert s("agreement", "--rubric", "demo", "--json").returncode == 0
    assert s("history", "1").returncode == 0


def test_a_board_reviewer_sees_pseudonyms_only(s: Store) -> None:
    s.as_("brd")
    out = s("raters", "--rubric", "demo", "--json")
    assert out.returncode in (0, 3), out.stderr  # 3: a small design may not converge
    ids = [a["id"] for a in json.loads(out.stdout)["assessors"]]
    assert len(ids) == 3 and all(i.startswith("A-") and len(i) == 12 for i in ids)
    assert not {"A1", *HOSTILE} & set(ids) and "A1" not in out.stdout
    refused(s("export", "ratings", "--rubric", "demo"), "brd (board) may not")
    refused(s("history", "1"), "brd (board) may not")
    refused(s("agreement", "--rubric", "other"), "not in the store")  # beta granted nothing
    assert s("verify").returncode == 0


def test_failed_logins_lock_the_name(s: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALIBRATE_LOGIN_FAILURES", "3")
    for _ in range(3):
        refused(s.login("asr", "wrong-password-123"), "wrong user name or password")
    refused(s.login("asr"), "too many failed logins for 'asr'")  # the right password, too late
    refused(s.login("nobody", "wrong-password-123"), "wrong user name or password")
    who = json.loads(s("whoami", "--json").stdout)
    assert who["operator"] is True  # no session was kept
    s.as_("lead")  # other names are not locked


def test_logout_ends_the_session_and_the_file_is_private(s: Store, tmp_path: Path) -> None:
    s.as_("admin-a")
    path = tmp_path / "config" / "session.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kept = json.loads(path.read_text())["sessions"]
    ((key, entry),) = kept.items()
    assert entry["username"] == "admin-a" and "correct-horse" not in path.read_text()
    assert PASSWORD not in key
    token = entry["token"]
    s.logout()
    assert json.loads(path.read_text())["sessions"] == {}
    assert json.loads(s("whoami", "--json").stdout)["operator"] is True
    # the ended session's token no longer acts, even put back into the file
    path.write_text(json.dumps({"sessions": {key: {"token": token, "username": "admin-a"}}}))
    refused(s("status"), "the session has expired or was ended: log in again")
    s.logout()


def test_disabling_an_account_ends_its_session(s: Store) -> None:
    s.as_("lead")
    assert s("history", "1").returncode == 0
    s.logout()
    assert s("accounts", "disable", "lead", "--reason", "left").returncode == 0
    refused(s.login("lead"), "disabled")
    s.as_("admin-a")
    assert s("accounts", "enable", "lead").returncode == 0
    out = s("accounts", "role", "lead", "assessor", "--json")
    assert json.loads(out.stdout)["role"] == "assessor"


def test_export_neutralises_formulas_in_every_text_cell(s: Store) -> None:
    s.as_("admin-a")
    out = s("export", "ratings", "--rubric", "demo", "--out", "export.csv", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rows"] == 24
    path = s.dir / "export.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    cells = [c for row in rows for c in row.values()]
    assert not [c for c in cells if c.startswith(FORMULA_STARTS)]
    for key in HOSTILE:
        assert f"'{key}" in cells
    assert {row["score"] for row in rows} == {"1", "2", "3"}  # numbers stay numbers
    assert {row["rubric"] for row in rows} == {"demo@1"}
    events = json.loads(s("audit", "--action", "ratings.export", "--json").stdout)["events"]
    assert [(e["actor"], e["subject"], e["detail"]["rows"]) for e in events] == [
        ("admin-a", "demo@1", 24)
    ]
    to_stdout = s("export", "ratings", "--rubric", "demo")
    assert to_stdout.stdout == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("cell", [*HOSTILE, "\tx", "\rx", "=1", "-3"])
def test_neutralise(cell: str) -> None:
    """OWASP CSV injection: a leading =, +, -, @, tab or CR gets an apostrophe."""
    assert neutralise(cell) == "'" + cell
    assert neutralise("T-17") == "T-17" and neutralise("3") == "3" and neutralise("") == ""


def _tamper(url: str, *statements: str) -> None:
    engine = sa.create_engine(store.normalise_url(url))
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def _unlock(url: str, table: str) -> str:
    if url.startswith("sqlite"):
        return f"DROP TRIGGER {table}_no_update"
    return f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"


def test_verify_finds_an_edited_rating(s: Store) -> None:
    out = s("verify", "--json")
    assert out.returncode == 0, out.stdout
    head = json.loads(out.stdout)["head"]
    assert s("verify", "--expect", head).returncode == 0
    _tamper(s.url, _unlock(s.url, "rating"), "UPDATE rating SET score = 1 WHERE id = 1")
    out = s("verify")
    assert out.returncode == 1
    assert "no longer match" in out.stderr and "NOT OK: 1 problem(s)" in out.stdout


def test_verify_finds_an_edited_audit_event(s: Store) -> None:
    head = json.loads(s("verify", "--json").stdout)["head"]
    _tamper(
        s.url,
        _unlock(s.url, "audit_event"),
        "UPDATE audit_event SET actor = 'someone-else' WHERE seq = 2",
    )
    out = s("verify", "--json")
    assert out.returncode == 1
    problems = json.loads(out.stdout)["problems"]
    assert any("event 2" in p and "edited" in p for p in problems)
    assert s("verify", "--expect", head).returncode == 1


def test_password_is_never_an_option(s: Store) -> None:
    out = s("login", "--user", "asr", "--password", PASSWORD)
    assert out.returncode == 2 and "No such option" in out.stderr
    refused(s("login", "--user", "asr"), "give --password-stdin")  # no terminal under pytest
    refused(s.login("asr", ""), "stdin held no password")


def test_the_session_file_is_per_store(s: Store, tmp_path: Path) -> None:
    s.as_("admin-a")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    who = json.loads(s.run("whoami", "--json", db=other, cwd=s.dir).stdout)
    assert who["operator"] is True
    assert os.environ["CALIBRATE_DATABASE_URL"] == other  # the fixture's run set it


def test_the_demo_serves_in_demo_mode_and_verifies_clean(
    db_url: str,
    tmp_path: Path,
    calibrate: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from calibrate import cli

    monkeypatch.setenv("CALIBRATE_SESSION_FILE", str(tmp_path / "session.json"))
    monkeypatch.delenv("CALIBRATE_DEMO", raising=False)
    served: list[dict[str, str]] = []
    monkeypatch.setattr(cli, "port_problem", lambda address, port: None)
    monkeypatch.setattr(cli, "run_streamlit", lambda cmd, env: served.append(env) or 0)
    out = calibrate("demo", "--size", "classroom", "--out", "d", db=db_url, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [env.get("CALIBRATE_DEMO") for env in served] == ["1"]
    for username in ("demo-admin", "demo-lead", "demo-assessor", "demo-board"):
        assert username in out.stderr
    assert "'calibrate-demo'" in out.stderr
    checked = calibrate("verify", "--json", db=db_url, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert json.loads(checked.stdout)["ratings"] > 1000
    monkeypatch.setattr(sys, "stdin", io.StringIO("calibrate-demo\n"))
    login = calibrate("login", "--user", "demo-board", "--password-stdin", db=db_url, cwd=tmp_path)
    assert login.returncode == 0, login.stderr
    assert calibrate("verify", db=db_url, cwd=tmp_path).returncode == 0
    refused(calibrate("export", "ratings", "--rubric", "crsel-intro", db=db_url, cwd=tmp_path))


def permissions_table() -> str:
    """The roles table of SECURITY.md, generated from :data:`calibrate.access.PERMISSIONS`."""
    from calibrate.access import PERMISSIONS

    roles = ["assessor", "lead", "admin", "board", "operator"]
    lines = [
        "| action | " + " | ".join(roles) + " | what it allows |",
        "| --- |" + " :-: |" * len(roles) + " --- |",
    ]
    for action, permission in PERMISSIONS.items():
        marks = " | ".join("yes" if r in permission.roles else "" for r in roles)
        lines.append(f"| `{action}` | {marks} | {permission.help} |")
    return "\n".join(lines) + "\n"


def test_security_md_prints_the_permissions_table() -> None:
    """SECURITY.md's table is PERMISSIONS (regenerate with :func:`permissions_table`)."""
    from tests.conftest import ROOT

    assert permissions_table() in (ROOT / "SECURITY.md").read_text(encoding="utf-8")
