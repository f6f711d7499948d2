"""One copy of each expert score: ``anchor_score`` holds the scores and rationales, the anchor
set's stored JSON the rest (what an assessor may see), on both backends; migration 0002 moves a
store made under 0001."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import store
from calibrate.anchors import AnchorSet, load_anchor_sets
from calibrate.rubric import load_rubrics
from calibrate.store.definitions import _anchor_set_hash, _anchor_set_json
from tests.conftest import ROOT, alembic, filled_at, table_rows


def shipped_sets() -> list[AnchorSet]:
    rubrics = load_rubrics(ROOT / "rubrics")
    return load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})


def stored_json(engine: Engine) -> dict[str, dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, definition FROM anchor_set")).all()
    return {key: json.loads(definition) for key, definition in rows}


def test_expert_scores_are_stored_once(engine: Engine) -> None:
    store.import_definition_dirs(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine)
    sets = shipped_sets()
    # the JSON keeps the artifacts and purposes, not the answer key
    for data in stored_json(engine).values():
        for anchor in data["anchors"]:  # type: ignore[attr-defined]
            assert set(anchor) == {"id", "purpose", "artifact"}
    # anchor_score holds every expert score and rationale, once
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT s.key, a.key, c.key, x.score, x.rationale FROM anchor_score x "
                "JOIN anchor a ON a.id = x.anchor_id JOIN anchor_set s ON s.id = a.anchor_set_id "
                "JOIN criterion c ON c.id = x.criterion_id"
            )
        ).all()
    expected = {
        (s.id, a.id, c): (score, a.rationale[c])
        for s in sets
        for a in s.anchors
        for c, score in a.scores.items()
    }
    assert {(s, a, c): (v, r) for s, a, c, v, r in rows} == expected
    assert len(rows) == len(expected)
    # read back whole, joined; the content hash is over the whole set, as before
    assert store.stored_anchor_sets(engine=engine) == sets
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT key, content_hash FROM anchor_set")).all()
    hashes = {str(key): str(digest) for key, digest in rows}
    assert hashes == {s.id: _anchor_set_hash(s) for s in sets}


def as_under_0001(engine: Engine) -> None:
    """The anchor sets' JSON as revision 0001 stored it: the whole set, scores and rationales
    included (beside the same scores in anchor_score)."""
    with engine.begin() as conn:
        for aset in shipped_sets():
            conn.execute(
                sa.text("UPDATE anchor_set SET definition = :d WHERE key = :k"),
                {"d": _anchor_set_json(aset), "k": aset.id},
            )


def test_migration_0002_moves_the_scores_out_of_the_json(db_url: str, tmp_path: Path) -> None:
    engine = store.create_store_engine(db_url)
    try:
        filled_at(
            engine,
            "0001",
            lambda e: store.import_definition_dirs(
                ROOT / "rubrics", ROOT / "anchor_sets", engine=e
            ),
        )
        as_under_0001(engine)
        with engine.begin() as conn:  # a row 0001 missed, and one it holds otherwise than the JSON
            conn.execute(
                sa.text("DELETE FROM anchor_score WHERE id = (SELECT min(id) FROM anchor_score)")
            )
            conn.execute(
                sa.text(
                    "UPDATE anchor_score SET score = 99 "
                    "WHERE id = (SELECT max(id) FROM anchor_score)"
                )
            )
        old_tables = ("rubric_version", "criterion", "level", "anchor_set", "anchor", "rating")
        before = {t: table_rows(engine, t) for t in old_tables}
        store.migrate(engine)
        assert store.stored_anchor_sets(engine=engine) == shipped_sets()
        for data in stored_json(engine).values():
            for anchor in data["anchors"]:  # type: ignore[attr-defined]
                assert "scores" not in anchor and "rationale" not in anchor
        after = store.counts(engine=engine)
        assert {t: after[t] for t in old_tables} == before
        assert after["anchor_score"] == sum(
            len(a.scores) for s in shipped_sets() for a in s.anchors
        )
        # and back: downgrading puts the scores into the JSON again
        alembic(engine, "downgrade", "0001")
        assert stored_json(engine) == {
            s.id: json.loads(_anchor_set_json(s)) for s in shipped_sets()
        }
    finally:
        engine.dispose()
