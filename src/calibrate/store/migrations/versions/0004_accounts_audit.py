"""accounts, issuers, sessions and the hash-chained audit log

Adds issuers (owners of rubric versions, hence of their anchor sets and ratings), accounts with
roles, board grants, login sessions and attempts, the store's pseudonym secret and the audit
log. Rubric versions already stored go to the issuer ``default``. Ratings already stored are
sealed by a first audit event (``store.baseline``), so that ``calibrate verify`` finds any later
edit of them. Triggers make ratings and audit events append-only on both backends.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 23:00:00
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("rating", "audit_event")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "issuer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    # ALTER TABLE ... ADD COLUMN ... REFERENCES, as both backends take it: SQLite would
    # otherwise rebuild the table, which the rows referencing it forbid inside a transaction.
    op.execute("ALTER TABLE rubric_version ADD COLUMN issuer_id INTEGER REFERENCES issuer (id)")
    op.create_index("ix_rubric_version_issuer_id", "rubric_version", ["issuer_id"])
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("issuer_id", sa.Integer(), sa.ForeignKey("issuer.id"), nullable=True),
        sa.Column("assessor_key", sa.String(length=100), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("sso_identity", sa.String(length=320), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
        sa.UniqueConstraint("sso_identity"),
    )
    op.create_table(
        "board_grant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("issuer_id", sa.Integer(), sa.ForeignKey("issuer.id"), nullable=False),
        sa.Column("granted_by", sa.String(length=200), nullable=False),
        _ts("granted_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "issuer_id"),
    )
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_login_session_account_id", "login_session", ["account_id"])
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        _ts("at"),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempt_user_at", "login_attempt", ["username", "at"])
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        _ts("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("detail", sa.String(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("hash"),
    )
    op.create_index("ix_audit_event_issuer", "audit_event", ["issuer"])
    op.create_table(
        "store_secret",
        sa.Column("purpose", sa.String(length=50), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("purpose"),
    )

    conn = op.get_bind()
    conn.execute(
        sa.text("INSERT INTO store_secret (purpose, value) VALUES ('pseudonym', :v)"),
        {"v": secrets.token_hex(32)},
    )
    if conn.execute(sa.text("SELECT count(*) FROM rubric_version")).scalar_one():
        conn.execute(
            sa.text(
                "INSERT INTO issuer (key, name, created_at) "
                "VALUES ('default', 'Default issuer', :t)"
            ),
            {"t": datetime.now(UTC)},
        )
        conn.execute(
            sa.text(
                "UPDATE rubric_version "
                "SET issuer_id = (SELECT id FROM issuer WHERE key = 'default')"
            )
        )
    _baseline(conn)
    _append_only(conn)


def _baseline(conn: sa.engine.Connection) -> None:
    """Seal the ratings already stored in a first audit event."""
    from calibrate.store.audit import append_event, seal_ratings

    batches = (
        conn.execute(
            sa.text("SELECT DISTINCT import_batch_id FROM rating WHERE import_batch_id IS NOT NULL")
        )
        .scalars()
        .all()
    )
    loose = (
        conn.execute(sa.text("SELECT id FROM rating WHERE import_batch_id IS NULL ORDER BY id"))
        .scalars()
        .all()
    )
    if not batches and not loose:
        return
    seals = [seal_ratings(conn, batch=int(b)) for b in sorted(batches)]
    if loose:
        seals.append(seal_ratings(conn, ids=[int(i) for i in loose]))
    append_event(
        conn,
        actor="migration 0004",
        action="store.baseline",
        subject="ratings stored before the audit log",
        detail={"ratings": seals},
    )


def _append_only(conn: sa.engine.Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.text(
                "CREATE FUNCTION calibrate_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                "BEGIN RAISE EXCEPTION '% is append-only: corrections are new rows', "
                "TG_TABLE_NAME; END $$"
            )
        )
        for table in APPEND_ONLY:
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION calibrate_append_only()"
                )
            )
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                    "FOR EACH STATEMENT EXECUTE FUNCTION calibrate_append_only()"
                )
            )
        return
    for table in APPEND_ONLY:
        for what in ("UPDATE", "DELETE"):
            conn.execute(
                sa.text(
                    f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: corrections are new "
                    "rows'); END"
                )
            )


def downgrade() -> None:
    conn = op.get_bind()
    for table in APPEND_ONLY:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(f"DROP TRIGGER {table}_append_only ON {table}"))
            conn.execute(sa.text(f"DROP TRIGGER {table}_no_truncate ON {table}"))
        else:
            for what in ("update", "delete"):
                conn.execute(sa.text(f"DROP TRIGGER {table}_no_{what}"))
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("DROP FUNCTION calibrate_append_only()"))
    for table in (
        "store_secret",
        "audit_event",
        "login_attempt",
        "login_session",
        "board_grant",
        "account",
    ):
        op.drop_table(table)
    op.drop_index("ix_rubric_version_issuer_id", table_name="rubric_version")
    op.execute("ALTER TABLE rubric_version DROP COLUMN issuer_id")
    op.drop_table("issuer")
