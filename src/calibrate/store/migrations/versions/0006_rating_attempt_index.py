"""ratings indexed by calibration attempt

A qualification round reads its own ratings at every scored anchor and at its judgement;
without ``ix_rating_calibration_attempt_id`` each read scanned every rating of the store.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 07:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_rating_calibration_attempt_id", "rating", ["calibration_attempt_id"])


def downgrade() -> None:
    op.drop_index("ix_rating_calibration_attempt_id", table_name="rating")
