"""a rating's identity is unique in the database

Adds ``uq_rating_identity``: one row per assessor, submission or anchor, criterion, calibration
round and revision (absent parts as 0: NULLs are distinct in a plain unique constraint). Imports
racing each other could store a file twice before; upgrading removes such exact copies (same
identity and score, never corrected), keeping the first and counting them out of their import
batch. Copies that differ in score, or that were corrected, are not guessed at: the upgrade stops
and names them. ``ix_rating_assessor_id`` goes: the new index leads with the assessor, and serves
the same lookups.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 17:00:01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from calibrate.errors import StoreError

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IDENTITY = (
    "assessor_id",
    "coalesce(submission_id, 0)",
    "coalesce(anchor_id, 0)",
    "criterion_id",
    "coalesce(calibration_attempt_id, 0)",
    "revision",
)


def upgrade() -> None:
    conn = op.get_bind()
    key = ", ".join(IDENTITY)
    groups = conn.execute(
        sa.text(f"SELECT {key}, count(*) FROM rating GROUP BY {key} HAVING count(*) > 1")
    ).all()
    unresolved: list[list[int]] = []
    for group in groups:
        where = " AND ".join(f"{expr} = :k{i}" for i, expr in enumerate(IDENTITY))
        rows = conn.execute(
            sa.text(
                f"SELECT id, score, import_batch_id, "
                f"EXISTS (SELECT 1 FROM rating later WHERE later.supersedes_id = rating.id) "
                f"FROM rating WHERE {where} ORDER BY id"
            ),
            {f"k{i}": v for i, v in enumerate(group[: len(IDENTITY)])},
        ).all()
        first, copies = rows[0], rows[1:]
        if any(r[1] != first[1] or r[3] for r in copies):
            unresolved.append([r[0] for r in rows])
            continue
        for rating_id, _score, batch, _corrected in copies:
            conn.execute(sa.text("DELETE FROM rating WHERE id = :i"), {"i": rating_id})
            if batch is not None:
                conn.execute(
                    sa.text("UPDATE import_batch SET n_written = n_written - 1 WHERE id = :b"),
                    {"b": batch},
                )
    if unresolved:
        shown = "; ".join(", ".join(map(str, ids)) for ids in unresolved[:10])
        raise StoreError(
            f"cannot make rating identities unique: {len(unresolved)} rating(s) are stored "
            f"several times with different scores or corrections (rating ids {shown}); keep one "
            "of each and upgrade again"
        )
    op.create_index(
        "uq_rating_identity", "rating", [sa.text(expr) for expr in IDENTITY], unique=True
    )
    op.drop_index("ix_rating_assessor_id", table_name="rating")  # uq_rating_identity leads with it


def downgrade() -> None:
    op.create_index("ix_rating_assessor_id", "rating", ["assessor_id"], unique=False)
    op.drop_index("uq_rating_identity", table_name="rating")
