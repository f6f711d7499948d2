"""Roles, scope and secrets through the Python API (the services), on both backends.

Each rule of issue #10 is attacked directly: an assessor asking for answer keys, other people's
ratings or analyses; an issuer administrator reaching another issuer; a board reviewer asking for
identifiers. The CLI and the dashboard have their own tests of the same rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.access import PERMISSIONS, ROLES, Actor, require
from calibrate.errors import AccessDenied, AuthenticationError, CalibrateError, StoreError
from calibrate.services.demo import DEMO_PASSWORD
from tests.conftest import DEMO_RUBRIC, OPERATOR

PASSWORD = "correct horse battery"


@pytest.fixture
def two_issuers(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """The classroom demo (issuer ``demo``, with its demo accounts) and issuer ``other`` with one
    rubric and a few ratings, plus an administrator of ``other``."""
    services.build_demo(
        engine=engine,
        actor=OPERATOR,
        out=tmp_path / "demo",
        size="classroom",
        workflow=False,
        seed=3,
    )
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "demo.yaml").write_text(DEMO_RUBRIC.replace("id: demo", "id: other-credential"))
    services.import_definitions(folder, engine=engine, actor=OPERATOR, issuer="other")
    ratings = tmp_path / "other.csv"
    ratings.write_text(
        "submission,assessor,criterion,score\n"
        "s1,O1,plan,2\ns1,O2,plan,3\ns1,O1,reflect,2\ns1,O2,reflect,2\n"
        "s2,O1,plan,1\ns2,O2,plan,1\ns2,O1,reflect,3\ns2,O2,reflect,2\n",
        encoding="utf-8",
    )
    services.import_ratings(ratings, engine=engine, actor=OPERATOR, rubric="other-credential")
    services.add_account(
        engine=engine,
        actor=OPERATOR,
        username="other-admin",
        role="admin",
        password=PASSWORD,
        issuer="other",
    )
    yield engine


def as_(engine: Engine, username: str, password: str = DEMO_PASSWORD) -> Actor:
    return services.login(username, password, engine=engine).actor


def validity_assessor(engine: Engine) -> str:
    """An assessor of the demo with validity-anchor ratings among their live work."""
    ratings = store.load_ratings(engine=engine, contexts=["validity"])
    return ratings.raters[int(np.bincount(ratings.rater).argmax())]


# --- the permission table ------------------------------------------------------------------


def test_every_role_has_a_sentence_and_every_action_a_role() -> None:
    assert set(ROLES) == {"assessor", "lead", "admin", "board"}
    for action, permission in PERMISSIONS.items():
        assert permission.roles, action
        assert permission.help.endswith("."), action
    # the secrets: no assessor and no board reviewer reads an answer key or single ratings
    for action in ("answer_key.read", "ratings.read", "ratings.export"):
        assert not {"assessor", "board"} & PERMISSIONS[action].roles


def test_require_names_the_rule_not_the_data() -> None:
    assessor = Actor("amy", "assessor", issuer="demo", assessor="A0001")
    denied = r"amy \(assessor\) may not .*only admin, lead, operator"
    with pytest.raises(AccessDenied, match=denied):
        require(assessor, "answer_key.read")
    admin = Actor("ada", "admin", issuer="north")
    with pytest.raises(AccessDenied, match="no access to issuer 'south'"):
        require(admin, "analyses.read", issuer="south")


# --- assessors ---------------------------------------------------------------------------------


def test_an_assessor_reaches_no_answer_key_analysis_or_other_rating(two_issuers: Engine) -> None:
    engine = two_issuers
    assessor = as_(engine, "demo-assessor")
    for call in (
        lambda: services.stored_accuracy(engine=engine, actor=assessor, rubric="crsel-intro@1"),
        lambda: services.stored_selection(engine=engine, actor=assessor, rubric="crsel-intro@1"),
        lambda: services.select_ratings(None, engine=engine, actor=assessor, rubric="crsel-intro"),
        lambda: services.repeated_readings(
            engine=engine, actor=assessor, rubric="crsel-intro@1", context="qualification"
        ),
        lambda: services.history(1, engine=engine, actor=assessor),
        lambda: services.correct(1, 2, engine=engine, actor=assessor, reason="mine now"),
        lambda: services.audit_log(engine=engine, actor=assessor),
        lambda: services.verify(engine=engine, actor=assessor),
        lambda: services.managed_accounts(engine=engine, actor=assessor),
        lambda: services.import_definitions(Path("rubrics"), engine=engine, actor=assessor),
    ):
        with pytest.raises(AccessDenied):
            call()


def test_an_assessor_sees_their_own_ratings_and_validity_anchors_look_live(
    two_issuers: Engine,
) -> None:
    engine = two_issuers
    key = validity_assessor(engine)
    services.add_account(
        engine=engine,
        actor=OPERATOR,
        username="val",
        role="assessor",
        password=PASSWORD,
        issuer="demo",
        assessor=key,
    )
    mine = services.my_ratings(engine=engine, actor=as_(engine, "val", PASSWORD))
    every = store.load_ratings(
        engine=engine, contexts=["live", "practice", "qualification", "validity"]
    )
    own = every.rater == every.raters.index(key)
    assert len(mine) == int(own.sum())  # all of them, and only them
    assert {r["context"] for r in mine} <= {"live", "practice", "qualification"}
    assert sum(r["context"] == "live" for r in mine) == int(
        (own & np.isin(every.columns["context"], ["live", "validity"])).sum()
    )
    # the same fields and the same handle form for every item: nothing marks an anchor
    assert {tuple(sorted(r)) for r in mine} == {
        ("context", "criterion", "rated_at", "revision", "rubric", "score", "submission")
    }
    assert all(r["submission"].startswith("S-") and len(r["submission"]) == 12 for r in mine)
    text = repr(mine)
    for label in every.units:  # no stored submission or anchor key reaches the assessor
        assert f"'{label}'" not in text and f"'{label.removeprefix('anchor:')}'" not in text
    assert "rationale" not in text and "expert" not in text


def test_two_assessors_get_different_handles_for_the_same_submission(two_issuers: Engine) -> None:
    engine = two_issuers
    live = store.load_ratings(engine=engine, rubric="other-credential@1", contexts=["live"])
    assert set(live.raters) == {"O1", "O2"}
    for key in ("O1", "O2"):
        services.add_account(
            engine=engine,
            actor=OPERATOR,
            username=key.lower(),
            role="assessor",
            password=PASSWORD,
            issuer="other",
            assessor=key,
        )
    one = {
        r["submission"]
        for r in services.my_ratings(engine=engine, actor=as_(engine, "o1", PASSWORD))
    }
    two = {
        r["submission"]
        for r in services.my_ratings(engine=engine, actor=as_(engine, "o2", PASSWORD))
    }
    assert len(one) == len(two) == 2 and not one & two


# --- issuer administrators ----------------------------------------------------------------------


def test_an_administrator_sees_only_their_issuer(two_issuers: Engine, tmp_path: Path) -> None:
    engine = two_issuers
    admin = as_(engine, "other-admin", PASSWORD)
    assert [r.key for r in services.rubrics(engine=engine, actor=admin)] == ["other-credential@1"]
    with pytest.raises(StoreError) as refused:
        services.stored_selection(engine=engine, actor=admin, rubric="crsel-intro@1")
    assert "crsel" not in str(refused.value).split("(stored:")[1]  # the listing is theirs alone
    with pytest.raises(CalibrateError):
        services.stored_accuracy(engine=engine, actor=admin, rubric="crsel-intro@1")
    demo_rating = _a_rating_of(engine, "crsel-intro")
    with pytest.raises(StoreError, match="no rating with id"):
        services.history(demo_rating, engine=engine, actor=admin)
    with pytest.raises(StoreError, match="no rating with id"):
        services.correct(demo_rating, 1, engine=engine, actor=admin, reason="not mine")
    with pytest.raises(AccessDenied):
        services.add_account(
            engine=engine, actor=admin, username="x", role="admin", password=PASSWORD, issuer="demo"
        )
    names = {a.username for a in services.managed_accounts(engine=engine, actor=admin)}
    assert names == {"other-admin"}
    assert {e.issuer for e in services.audit_log(engine=engine, actor=admin)} == {"other"}
    counts = services.store_status(engine=engine, actor=admin)
    assert counts["rating"] == 8 and counts["rubric_version"] == 1
    # a file naming another issuer's rubric is refused whole, as if the rubric did not exist
    stray = tmp_path / "stray.csv"
    stray.write_text("submission,assessor,criterion,score,rubric\nz,Z1,plan,2,demo@1\n")
    before = store.counts(engine=engine)
    with pytest.raises(CalibrateError):
        services.import_ratings(stray, engine=engine, actor=admin)
    assert store.counts(engine=engine) == before


def _a_rating_of(engine: Engine, rubric: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT min(r.id) FROM rating r JOIN criterion c ON c.id = r.criterion_id "
                    "JOIN rubric_version v ON v.id = c.rubric_version_id WHERE v.rubric_key = :k"
                ),
                {"k": rubric},
            ).scalar_one()
        )


def test_a_lead_reads_and_corrects_their_issuers_ratings(two_issuers: Engine) -> None:
    engine = two_issuers
    lead = as_(engine, "demo-lead")
    rating = _a_rating_of(engine, "crsel-intro")
    old = services.history(rating, engine=engine, actor=lead)[-1]
    new = services.correct(
        old["id"], 1 if old["score"] != 1 else 2, engine=engine, actor=lead, reason="adjudicated"
    )
    assert services.history(new, engine=engine, actor=lead)[-1]["recorded_by"] == "demo-lead"
    with pytest.raises(StoreError, match="no rating with id"):
        services.history(_a_rating_of(engine, "other-credential"), engine=engine, actor=lead)


# --- board reviewers ----------------------------------------------------------------------------


def test_a_board_reviewer_gets_pseudonyms_and_the_same_statistics(two_issuers: Engine) -> None:
    engine = two_issuers
    board = as_(engine, "demo-board")
    seen = services.stored_selection(engine=engine, actor=board, rubric="crsel-intro@1")
    plain = services.stored_selection(engine=engine, actor=OPERATOR, rubric="crsel-intro@1")
    assert all(r.startswith("A-") for r in seen.ratings.raters)
    assert all(u.startswith("S-") for u in seen.ratings.units)
    assert not set(seen.ratings.raters) & set(plain.ratings.raters)
    earners = {e for e in seen.ratings.columns.get("earner", []) if e}
    assert earners and all(e.startswith("E-") for e in earners)
    assert "batch" not in seen.ratings.columns
    # the statistics do not change
    assert services.agreement(seen).to_dict() == services.agreement(plain).to_dict()
    accuracy = services.stored_accuracy(engine=engine, actor=board, rubric="crsel-intro@1")
    plain_accuracy = services.stored_accuracy(engine=engine, actor=OPERATOR, rubric="crsel-intro@1")
    assert all(a.startswith("A-") for a in accuracy.assessors)
    assert [r.to_dict() for r in accuracy.criteria.values()] == [
        r.to_dict() for r in plain_accuracy.criteria.values()
    ]
    for call in (
        lambda: services.history(1, engine=engine, actor=board),
        lambda: services.my_ratings(engine=engine, actor=board),
        lambda: services.managed_accounts(engine=engine, actor=board),
    ):
        with pytest.raises(AccessDenied):
            call()
    with pytest.raises(StoreError):  # not granted: not there
        services.stored_selection(engine=engine, actor=board, rubric="other-credential@1")
    services.grant_board(
        engine=engine,
        actor=as_(engine, "other-admin", PASSWORD),
        username="demo-board",
        issuer="other",
    )
    again = as_(engine, "demo-board")
    assert services.stored_selection(engine=engine, actor=again, rubric="other-credential@1")


# --- logins and sessions ----------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_hashes_only(engine: Engine) -> None:
    services.add_account(
        engine=engine, actor=OPERATOR, username="ada", role="admin", password=PASSWORD, issuer="n"
    )
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM account")).scalar_one()
        dump = repr(conn.execute(sa.text("SELECT * FROM account")).all())
    assert stored.startswith("$argon2id$") and PASSWORD not in dump
    with pytest.raises(CalibrateError, match="at least 12"):
        services.add_account(
            engine=engine,
            actor=OPERATOR,
            username="bob",
            role="admin",
            password="short",
            issuer="n",
        )


def test_the_login_rate_limit_holds_even_for_the_right_password(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALIBRATE_LOGIN_FAILURES", "3")
    services.add_account(
        engine=engine, actor=OPERATOR, username="ada", role="admin", password=PASSWORD, issuer="n"
    )
    for _ in range(3):
        with pytest.raises(AuthenticationError, match="wrong user name or password"):
            services.login("ada", "not the password", engine=engine)
    with pytest.raises(AuthenticationError, match="too many failed logins"):
        services.login("ada", PASSWORD, engine=engine)
    # an unknown name says the same as a wrong password, and is limited too
    for _ in range(3):
        with pytest.raises(AuthenticationError, match="wrong user name or password"):
            services.login("nobody", PASSWORD, engine=engine)
    with pytest.raises(AuthenticationError, match="too many"):
        services.login("nobody", PASSWORD, engine=engine)
    # once the window has passed, the right password works again
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE login_attempt SET at = :t"), {"t": "2000-01-01 00:00:00"})
    assert services.login("ada", PASSWORD, engine=engine).actor.role == "admin"


def test_sessions_end_on_logout_disable_role_change_and_expiry(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.add_account(
        engine=engine, actor=OPERATOR, username="ada", role="admin", password=PASSWORD, issuer="n"
    )
    services.add_account(
        engine=engine,
        actor=OPERATOR,
        username="lee",
        role="lead",
        password=PASSWORD,
        issuer="n",
        assessor="L1",
    )
    first = services.login("lee", PASSWORD, engine=engine)
    assert services.session_actor(first.token, engine=engine).role == "lead"
    services.logout(first.token, engine=engine)
    with pytest.raises(AuthenticationError, match="log in again"):
        services.session_actor(first.token, engine=engine)
    admin = as_(engine, "ada", PASSWORD)
    second = services.login("lee", PASSWORD, engine=engine)
    services.set_role(engine=engine, actor=admin, username="lee", role="assessor", reason="demoted")
    with pytest.raises(AuthenticationError):
        services.session_actor(second.token, engine=engine)
    third = services.login("lee", PASSWORD, engine=engine)
    assert third.actor.role == "assessor"
    services.set_disabled(engine=engine, actor=admin, username="lee", disabled=True, reason="left")
    with pytest.raises(AuthenticationError):
        services.session_actor(third.token, engine=engine)
    with pytest.raises(AuthenticationError, match="disabled"):
        services.login("lee", PASSWORD, engine=engine)
    monkeypatch.setenv("CALIBRATE_SESSION_HOURS", "0.000001")  # 3.6 ms
    short = services.login("ada", PASSWORD, engine=engine)
    with engine.begin() as conn:  # and time passes
        conn.execute(
            sa.text("UPDATE login_session SET expires_at = :t"), {"t": "2000-01-01 00:00:00"}
        )
    with pytest.raises(AuthenticationError, match="expired"):
        services.session_actor(short.token, engine=engine)
    actions = [e.action for e in services.audit_log(engine=engine, actor=OPERATOR)]
    assert {"account.create", "account.role", "account.disable"} <= set(actions)


def test_only_the_operator_creates_a_first_administrator(engine: Engine) -> None:
    first = services.create_first_admin(
        engine=engine, actor=OPERATOR, username="ada", password=PASSWORD, issuer="n"
    )
    assert first.role == "admin" and first.issuer == "n"
    with pytest.raises(CalibrateError, match="has an administrator already"):
        services.create_first_admin(
            engine=engine, actor=OPERATOR, username="eve", password=PASSWORD, issuer="n"
        )
    with pytest.raises(AccessDenied):
        services.create_first_admin(
            engine=engine,
            actor=as_(engine, "ada", PASSWORD),
            username="eve",
            password=PASSWORD,
            issuer="m",
        )
