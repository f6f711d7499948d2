"""the calibration workflow: rounds, the live queue, final results, suspensions

Calibration attempts gain their end, judgement and note, and the anchors they drew
(``attempt_anchor``). Submissions entered for live scoring gain their artifact, the time they
were received and the readings they need. ``assignment`` holds who scores what (live readings
and seeded validity anchors, behind one kind of handle), ``submission_result`` the final scores
(append-only, like ratings), ``suspension`` who may not score live work and why.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 05:00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("submission_result", "attempt_anchor")
OPEN = sa.text("released_at IS NULL")
UNFINISHED = sa.text("finished_at IS NULL AND released_at IS NULL")


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("calibration_attempt", _ts("finished_at", True))
    op.add_column("calibration_attempt", sa.Column("result", sa.String(), nullable=True))
    op.add_column("calibration_attempt", sa.Column("note", sa.String(), nullable=True))
    op.add_column("submission", sa.Column("artifact", sa.String(), nullable=True))
    op.add_column("submission", _ts("received_at", True))
    op.add_column("submission", sa.Column("readings", sa.Integer(), nullable=True))
    op.create_table(
        "attempt_anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "attempt_id", sa.Integer(), sa.ForeignKey("calibration_attempt.id"), nullable=False
        ),
        sa.Column("anchor_id", sa.Integer(), sa.ForeignKey("anchor.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("attempt_id", "position"),
        sa.UniqueConstraint("attempt_id", "anchor_id"),
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=20), nullable=False),
        sa.Column("assessor_id", sa.Integer(), sa.ForeignKey("assessor.id"), nullable=False),
        sa.Column(
            "rubric_version_id", sa.Integer(), sa.ForeignKey("rubric_version.id"), nullable=False
        ),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"), nullable=True),
        sa.Column("anchor_id", sa.Integer(), sa.ForeignKey("anchor.id"), nullable=True),
        sa.Column("reading", sa.Integer(), nullable=True),
        _ts("assigned_at"),
        _ts("due_at"),
        _ts("finished_at", True),
        sa.Column("comment", sa.String(), nullable=True),
        _ts("released_at", True),
        sa.Column("released_reason", sa.String(), nullable=True),
        sa.CheckConstraint(
            "(submission_id IS NULL) <> (anchor_id IS NULL)", name="assignment_one_target"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("handle"),
    )
    op.create_index("ix_assignment_submission_id", "assignment", ["submission_id"])
    op.create_index(
        "ix_assignment_open", "assignment", ["assessor_id", "finished_at", "released_at"]
    )
    op.create_index(
        "ix_assignment_due",
        "assignment",
        ["due_at"],
        sqlite_where=UNFINISHED,
        postgresql_where=UNFINISHED,
    )
    op.create_index(
        "uq_assignment_reading",
        "assignment",
        ["submission_id", "reading"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index(
        "uq_assignment_reader",
        "assignment",
        [
            sa.text("assessor_id"),
            sa.text("coalesce(submission_id, 0)"),
            sa.text("coalesce(anchor_id, 0)"),
        ],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "submission_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), sa.ForeignKey("submission.id"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column(
            "supersedes_id", sa.Integer(), sa.ForeignKey("submission_result.id"), nullable=True
        ),
        sa.Column("scores", sa.String(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("third_reading", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=False),
        _ts("decided_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("submission_id", "revision"),
        sa.UniqueConstraint("supersedes_id"),
    )
    op.create_index("ix_submission_result_submission_id", "submission_result", ["submission_id"])
    op.create_table(
        "suspension",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessor_id", sa.Integer(), sa.ForeignKey("assessor.id"), nullable=False),
        sa.Column(
            "rubric_version_id", sa.Integer(), sa.ForeignKey("rubric_version.id"), nullable=False
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        _ts("started_at"),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        _ts("lifted_at", True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_suspension_assessor_id", "suspension", ["assessor_id"])
    _append_only(op.get_bind())


def _append_only(conn: sa.engine.Connection) -> None:
    """The triggers of 0004 (``calibrate_append_only`` on PostgreSQL) on the new tables."""
    for table in APPEND_ONLY:
        if conn.dialect.name == "postgresql":
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
            continue
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
    for table in ("suspension", "submission_result", "assignment", "attempt_anchor"):
        op.drop_table(table)
    for column in ("readings", "received_at", "artifact"):
        op.execute(f"ALTER TABLE submission DROP COLUMN {column}")
    for column in ("note", "result", "finished_at"):
        op.execute(f"ALTER TABLE calibration_attempt DROP COLUMN {column}")
