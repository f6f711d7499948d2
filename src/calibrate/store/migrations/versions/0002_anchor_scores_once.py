"""one copy of the expert scores: anchor_score, not the anchor set's JSON

The expert scores and rationales were stored twice: in ``anchor_score`` (never read) and in the
anchor set's ``definition`` JSON (read). They now live in ``anchor_score`` only, apart from the
artifacts an assessor sees. Upgrading moves them: the JSON's scores and rationales are written to
``anchor_score`` (inserted where missing, the JSON winning where they differ), then removed from
the JSON. Downgrading puts them back.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 17:00:00
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _sets(conn: sa.Connection) -> list[tuple[int, dict[str, Any], dict[str, int], dict[str, int]]]:
    """Each anchor set: id, parsed definition, anchor ids by key, criterion ids by key."""
    out = []
    for set_id, rv_id, definition in conn.execute(
        sa.text("SELECT id, rubric_version_id, definition FROM anchor_set ORDER BY id")
    ):
        anchors: dict[str, int] = {
            key: i
            for key, i in conn.execute(
                sa.text("SELECT key, id FROM anchor WHERE anchor_set_id = :s"), {"s": set_id}
            )
        }
        criteria: dict[str, int] = {
            key: i
            for key, i in conn.execute(
                sa.text("SELECT key, id FROM criterion WHERE rubric_version_id = :v"), {"v": rv_id}
            )
        }
        out.append((set_id, json.loads(definition), anchors, criteria))
    return out


def upgrade() -> None:
    conn = op.get_bind()
    for set_id, data, anchors, criteria in _sets(conn):
        for anchor in data["anchors"]:
            aid = anchors[anchor["id"]]
            scores = anchor.pop("scores", {})
            rationale = anchor.pop("rationale", {})
            stored = {
                cid: (score, text)
                for cid, score, text in conn.execute(
                    sa.text(
                        "SELECT criterion_id, score, rationale FROM anchor_score "
                        "WHERE anchor_id = :a"
                    ),
                    {"a": aid},
                )
            }
            for key, score in scores.items():
                cid = criteria[key]
                values = {"a": aid, "c": cid, "s": score, "r": rationale.get(key, "")}
                if cid not in stored:
                    conn.execute(
                        sa.text(
                            "INSERT INTO anchor_score (anchor_id, criterion_id, score, rationale) "
                            "VALUES (:a, :c, :s, :r)"
                        ),
                        values,
                    )
                elif stored[cid] != (score, values["r"]):
                    conn.execute(
                        sa.text(
                            "UPDATE anchor_score SET score = :s, rationale = :r "
                            "WHERE anchor_id = :a AND criterion_id = :c"
                        ),
                        values,
                    )
        conn.execute(
            sa.text("UPDATE anchor_set SET definition = :d WHERE id = :s"),
            {"d": _dump(data), "s": set_id},
        )


def downgrade() -> None:
    conn = op.get_bind()
    for set_id, data, anchors, _criteria in _sets(conn):
        for anchor in data["anchors"]:
            rows = conn.execute(
                sa.text(
                    "SELECT c.key, s.score, s.rationale FROM anchor_score s "
                    "JOIN criterion c ON c.id = s.criterion_id WHERE s.anchor_id = :a "
                    "ORDER BY s.id"
                ),
                {"a": anchors[anchor["id"]]},
            ).all()
            anchor["scores"] = {key: score for key, score, _ in rows}
            anchor["rationale"] = {key: text for key, _, text in rows}
        conn.execute(
            sa.text("UPDATE anchor_set SET definition = :d WHERE id = :s"),
            {"d": _dump(data), "s": set_id},
        )
