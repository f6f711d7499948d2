"""The audit log and ``verify``: append-only tables, the hash chain, the seals of ratings, and
what verify finds when someone with the database owner's rights edits behind calibrate's back.
On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from calibrate import services, store
from calibrate.errors import StoreError
from calibrate.store.audit import GENESIS, event_hash, verify_store
from calibrate.store.models import AuditEvent
from tests.conftest import OPERATOR, filled_at
from tests.test_store import GOOD, write


@pytest.fixture
def sealed(loaded: Engine, tmp_path: Path) -> Engine:
    """The demo rubric, one ratings import and one correction."""
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    with loaded.connect() as conn:
        first = conn.execute(sa.text("SELECT min(id) FROM rating")).scalar_one()
    services.correct(first, 2, engine=loaded, actor=OPERATOR, reason="misread the plan")
    return loaded


def bypass(engine: Engine, sql: str, table: str = "rating") -> None:
    """Run ``sql`` as the database owner would, with the append-only triggers out of the way."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(sa.text(sql))
            conn.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            kept = conn.execute(
                sa.text("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name=:t"),
                {"t": table},
            ).all()
            for name, _ in kept:
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
            conn.execute(sa.text(sql))
            for _, create in kept:
                conn.execute(sa.text(create))


def test_a_clean_store_verifies_and_every_write_is_recorded(sealed: Engine) -> None:
    report = verify_store(sealed)
    assert report.ok, report.problems
    assert report.ratings == 5 and report.events == 4
    actions = [e.action for e in services.audit_log(engine=sealed, actor=OPERATOR)]
    assert actions == ["rating.correct", "ratings.import", "definitions.import", "issuer.create"]
    assert report.head is not None and report.head.startswith("4:")


@pytest.mark.parametrize("table", ["rating", "audit_event"])
@pytest.mark.parametrize("statement", ["UPDATE {t} SET {c} = {c}", "DELETE FROM {t}"])
def test_ratings_and_events_are_append_only(sealed: Engine, table: str, statement: str) -> None:
    column = "score" if table == "rating" else "actor"
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), sealed.begin() as conn:
        conn.execute(sa.text(statement.format(t=table, c=column)))
    assert verify_store(sealed).ok


def test_verify_finds_an_edited_rating(sealed: Engine) -> None:
    bypass(
        sealed,
        "UPDATE rating SET score = 1 WHERE id = (SELECT max(id) FROM rating WHERE revision = 1)",
    )
    report = verify_store(sealed)
    assert not report.ok
    assert any(
        re.search(r"import batch \d+ no longer match.*4 rows then, 4 now", p)
        for p in report.problems
    ), report.problems


def test_verify_finds_an_edited_correction_and_a_removed_rating(sealed: Engine) -> None:
    bypass(sealed, "UPDATE rating SET reason = 'nothing to see' WHERE revision = 2")
    assert any("ratings [" in p for p in verify_store(sealed).problems)
    bypass(sealed, "DELETE FROM rating WHERE id = (SELECT max(id) FROM rating WHERE revision = 1)")
    assert any("5 rows then, 4 now" in p or "rows then" in p for p in verify_store(sealed).problems)


def test_verify_finds_a_rating_written_outside_calibrate(sealed: Engine) -> None:
    with sealed.begin() as conn:  # an insert passes the triggers: only the seals catch it
        conn.execute(
            sa.text("INSERT INTO assessor (key, created_at) VALUES ('EVE', CURRENT_TIMESTAMP)")
        )
        conn.execute(
            sa.text(
                "INSERT INTO rating (assessor_id, submission_id, criterion_id, score, context, "
                "revision, recorded_by, recorded_at) "
                "SELECT (SELECT id FROM assessor WHERE key = 'EVE'), submission_id, "
                "criterion_id, 1, context, 1, 'eve', recorded_at FROM rating "
                "WHERE id = (SELECT min(id) FROM rating)"
            )
        )
    problems = verify_store(sealed).problems
    assert any("not recorded in the audit log" in p for p in problems), problems


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor", "'someone else'"), ("detail", "'{}'"), ("subject", "'x'"), ("action", "'noop'")],
)
def test_verify_finds_an_edited_audit_event(sealed: Engine, column: str, value: str) -> None:
    bypass(sealed, f"UPDATE audit_event SET {column} = {value} WHERE seq = 2", "audit_event")
    problems = verify_store(sealed).problems
    assert any("event 2" in p and "edited" in p for p in problems), problems


def test_verify_finds_a_removed_event_and_a_rewritten_chain(sealed: Engine) -> None:
    head = verify_store(sealed).head
    assert head is not None
    bypass(sealed, "DELETE FROM audit_event WHERE seq = 3", "audit_event")
    problems = verify_store(sealed).problems
    assert any("event 3 is missing" in p for p in problems), problems
    # an editor who recomputes every later hash makes the chain whole again, but the head a
    # board recorded earlier no longer matches
    _rechain(sealed)
    rewritten = verify_store(sealed, expect=head)
    assert not any("is missing" in p for p in rewritten.problems)
    assert any("rewritten since that head" in p for p in rewritten.problems), rewritten.problems


def _rechain(engine: Engine) -> None:
    """Renumber and rehash the whole log, as a careful forger would."""
    table = AuditEvent.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).order_by(table.c.seq)).mappings().all()
    prev = GENESIS
    values = []
    for i, r in enumerate(rows, start=1):
        digest = event_hash(
            prev, i, r["at"], r["actor"], r["action"], r["issuer"], r["subject"], r["detail"]
        )
        values.append({**r, "seq": i, "prev_hash": prev, "hash": digest})
        prev = digest
    bypass(engine, "DELETE FROM audit_event", "audit_event")
    with engine.begin() as conn:
        for v in values:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_event (seq, at, actor, action, issuer, subject, detail, "
                    "prev_hash, hash) VALUES (:seq, :at, :actor, :action, :issuer, :subject, "
                    ":detail, :prev_hash, :hash)"
                ),
                v,
            )


def test_verify_refuses_an_expect_that_is_not_a_head(sealed: Engine) -> None:
    assert any("not SEQ:HASH" in p for p in verify_store(sealed, expect="nonsense").problems)
    head = verify_store(sealed).head
    assert verify_store(sealed, expect=head).ok


def test_verify_finds_a_broken_revision_chain(sealed: Engine) -> None:
    bypass(sealed, "UPDATE rating SET revision = 3 WHERE revision = 2")
    problems = verify_store(sealed).problems
    assert any("is not its next revision" in p for p in problems), problems


def test_a_store_from_before_the_audit_log_is_sealed_by_its_migration(
    db_url: str, demo_rubric: object, tmp_path: Path
) -> None:
    engine = store.create_store_engine(db_url)
    try:

        def fill(e: Engine) -> None:
            store.import_definitions([demo_rubric], engine=e)  # type: ignore[list-item]
            store.import_ratings_file(write(tmp_path, GOOD), engine=e, rubric="demo")

        filled_at(engine, "0003", fill)
        store.migrate(engine)
        report = verify_store(engine)
        assert report.ok, report.problems
        events = services.audit_log(engine=engine, actor=OPERATOR)
        assert [e.action for e in events] == ["store.baseline"]
        assert events[0].detail["ratings"][0]["n"] == 4
        assert [r.key for r in store.stored_rubrics(engine=engine, issuers=["default"])] == [
            "demo@1"
        ]
        bypass(engine, "UPDATE rating SET score = 1 WHERE id = (SELECT min(id) FROM rating)")
        assert not verify_store(engine).ok
    finally:
        engine.dispose()


@settings(max_examples=60, deadline=None)
@given(
    seq=st.integers(1, 10**6),
    actor=st.text(max_size=20),
    subject=st.text(max_size=40),
    detail=st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    field=st.sampled_from(["seq", "actor", "subject", "detail", "prev"]),
)
def test_any_change_to_an_event_changes_its_hash(
    seq: int, actor: str, subject: str, detail: dict[str, int], field: str
) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 12, 2, 12, 0, 0, 123456, tzinfo=UTC)
    text = json.dumps(detail, sort_keys=True)
    args = {"prev_hash": GENESIS, "seq": seq, "actor": actor, "subject": subject, "detail": text}
    original = event_hash(args["prev_hash"], seq, at, actor, "act", None, subject, text)
    changed = dict(args)
    if field == "seq":
        changed["seq"] = seq + 1
    elif field == "prev":
        changed["prev_hash"] = "1" + GENESIS[1:]
    elif field == "detail":
        changed["detail"] = text + " "
    else:
        changed[field] = args[field] + "x"
    assert original != event_hash(
        changed["prev_hash"],
        changed["seq"],
        at,
        changed["actor"],
        "act",
        None,
        changed["subject"],
        changed["detail"],
    )
    # and a naive time is read as UTC (SQLite hands times back naive)
    assert original == event_hash(
        GENESIS, seq, at.replace(tzinfo=None), actor, "act", None, subject, text
    )


def test_a_refused_write_leaves_no_event(sealed: Engine, tmp_path: Path) -> None:
    before = len(services.audit_log(engine=sealed, actor=OPERATOR))
    with pytest.raises(StoreError):
        services.correct(1, 99, engine=sealed, actor=OPERATOR, reason="not a level")
    assert len(services.audit_log(engine=sealed, actor=OPERATOR)) == before
