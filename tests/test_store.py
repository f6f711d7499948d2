"""The store on SQLite and PostgreSQL: migrations, round trips, all-or-nothing, idempotence."""

from __future__ import annotations

import warnings
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import SQLModel

from calibrate import store
from calibrate.anchors import load_anchor_set, load_anchor_sets
from calibrate.errors import CalibrateError, StoreError, ValidationError
from calibrate.rubric import Rubric, load_rubric, load_rubrics, rubric_from_data
from calibrate.store import models as m
from tests.conftest import DEMO_RUBRIC, ROOT
from tests.test_anchors import ANCHORS

GOOD = (
    "submission,assessor,criterion,score,timestamp,earner,attempt\n"
    "S1,A1,plan,3,2026-01-05T10:00:00Z,E1,1\n"
    "S1,A2,plan,2,2026-01-05T11:00:00Z,E1,1\n"
    "S1,A1,reflect,1,,E1,1\n"
    "S2,A1,plan,3,,E1,2\n"
)


def write(tmp_path: Path, text: str, name: str = "ratings.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def schema_differences(conn: sa.Connection) -> list[object]:
    """What Alembic finds between the database and the models (expression indexes, such as
    ``uq_rating_identity``, are not reflected: SQLAlchemy warns and skips them on both sides)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return list(compare_metadata(MigrationContext.configure(conn), SQLModel.metadata))


def test_migrations_reach_head_and_match_models(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert context.get_current_revision() == "0006"
        assert schema_differences(conn) == []
    store.migrate(engine)  # running again is a no-op
    assert store.counts(engine=engine)["rating"] == 0


def test_shipped_definitions_round_trip(engine: Engine) -> None:
    report = store.import_definition_dirs(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine)
    rubrics = load_rubrics(ROOT / "rubrics")
    sets = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    assert report.n_written == len(rubrics) + len(sets)
    assert {r.key: r for r in store.stored_rubrics(engine=engine)} == {r.key: r for r in rubrics}
    assert {s.id: s for s in store.stored_anchor_sets(engine=engine)} == {s.id: s for s in sets}
    n = store.counts(engine=engine)
    assert n["anchor"] == sum(len(s.anchors) for s in sets)
    assert n["import_batch"] == 1  # who imported the definitions, and when
    again = store.import_definition_dirs(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine)
    assert (again.n_written, again.n_unchanged) == (0, len(rubrics) + len(sets))
    assert store.counts(engine=engine) == n


def test_changed_rubric_needs_new_version(
    engine: Engine, demo_rubric: Rubric, tmp_path: Path
) -> None:
    store.import_definitions([demo_rubric], engine=engine)
    changed = tmp_path / "changed.yaml"
    changed.write_text(DEMO_RUBRIC.replace("No plan.", "No plan at all."))
    with pytest.raises(ValidationError, match="must carry a new version"):
        store.import_definitions([load_rubric(changed)], engine=engine)
    changed.write_text(
        DEMO_RUBRIC.replace("No plan.", "No plan at all.").replace("version: 1", "version: 2")
    )
    store.import_definitions([load_rubric(changed)], engine=engine)
    versions = {r.key: r for r in store.stored_rubrics(engine=engine)}
    assert set(versions) == {"demo@1", "demo@2"}
    assert versions["demo@1"] == demo_rubric  # the old version stays readable


def test_ratings_round_trip(loaded: Engine, tmp_path: Path) -> None:
    report = store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo@1")
    assert (report.n_rows, report.n_written, report.n_unchanged) == (4, 4, 0)
    r = store.load_ratings(engine=loaded)
    assert r.units == ("S1", "S2") and r.raters == ("A1", "A2")
    assert r.criteria == ("plan", "reflect")
    got = sorted(
        zip(
            (r.units[u] for u in r.unit),
            (r.raters[a] for a in r.rater),
            (r.criteria[c] for c in r.criterion),
            r.value.tolist(),
            strict=True,
        )
    )
    assert got == [
        ("S1", "A1", "plan", 3.0),
        ("S1", "A1", "reflect", 1.0),
        ("S1", "A2", "plan", 2.0),
        ("S2", "A1", "plan", 3.0),
    ]
    with loaded.connect() as conn:
        subs = conn.execute(sa.text("SELECT key, attempt, previous_id, id FROM submission")).all()
        rating = m.Rating.__table__  # type: ignore[attr-defined]
        stamps = conn.execute(sa.select(rating.c.rated_at).order_by(rating.c.id)).scalars().all()
    by_key = {k: (a, p, i) for k, a, p, i in subs}
    assert by_key["S2"][1] == by_key["S1"][2]  # the 2nd attempt links to the 1st
    assert stamps[0].replace(tzinfo=None) == datetime(2026, 1, 5, 10, 0)
    assert stamps[2] is None


def test_reimport_adds_nothing(loaded: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    store.import_ratings_file(path, engine=loaded, rubric="demo")
    before = store.counts(engine=loaded)
    again = store.import_ratings_file(path, engine=loaded, rubric="demo")
    assert (again.n_written, again.n_unchanged) == (0, 4)
    after = store.counts(engine=loaded)
    assert after["rating"] == before["rating"] and after["submission"] == before["submission"]


@pytest.mark.parametrize(
    ("last_row", "field", "words"),
    [
        ("S9,A1,planning,2,demo@1", "criterion", "unknown criterion 'planning' for demo@1"),
        ("S9,A1,plan,4,demo@1", "score", "score 4 is not a level of demo@1"),
        ("S9,A1,plan,three,demo@1", "score", "not a number"),
        ("S1,A1,plan,3,demo@1", "criterion", "duplicate rating"),
        ("S9,A1,plan,2,demo@7", "rubric", "unknown rubric version 'demo@7'"),
        ("S9,A1,plan,2,demo@1,2026-13-01", "timestamp", "unparseable timestamp"),
        ("S9,A1,plan,2,demo@1,,validity", "submission", "unknown anchor 'S9'"),
    ],
)
def test_bad_last_row_writes_nothing(
    loaded: Engine, tmp_path: Path, last_row: str, field: str, words: str
) -> None:
    text = (
        "submission,assessor,criterion,score,rubric,timestamp,context\n"
        "S1,A1,plan,3,demo@1,,\nS1,A2,plan,2,demo@1,,\n"
        + last_row
        + "," * (6 - last_row.count(","))
        + "\n"
    )
    before = store.counts(engine=loaded)
    with pytest.raises(ValidationError) as info:
        store.import_ratings_file(write(tmp_path, text), engine=loaded)
    assert any(
        p.line == 4 and p.field == field and words in p.message for p in info.value.problems
    ), info.value
    assert store.counts(engine=loaded) == before


def test_missing_column_and_no_rubric(loaded: Engine, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="missing column"):
        store.import_ratings_file(
            write(tmp_path, "submission,assessor,score\nS1,A1,2\n"), engine=loaded
        )
    with pytest.raises(ValidationError, match="no rubric version"):
        store.import_ratings_file(write(tmp_path, GOOD), engine=loaded)


def test_conflict_found_late_rolls_back(loaded: Engine, tmp_path: Path) -> None:
    """A conflict with a stored rating is found after new assessors were inserted: all undone."""
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    before = store.counts(engine=loaded)
    text = "submission,assessor,criterion,score\nS7,A9,plan,2\nS1,A1,plan,1\n"
    with pytest.raises(ValidationError, match="already stored with score 3") as info:
        store.import_ratings_file(write(tmp_path, text, "b.csv"), engine=loaded, rubric="demo")
    assert info.value.problems[0].line == 3
    assert store.counts(engine=loaded) == before


def test_submission_keeps_its_rubric(loaded: Engine, demo_rubric: Rubric, tmp_path: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(DEMO_RUBRIC.replace("id: demo", "id: other"))
    store.import_definitions([load_rubric(other)], engine=loaded)
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    text = "submission,assessor,criterion,score\nS1,A3,plan,2\n"
    with pytest.raises(ValidationError, match="belongs to demo@1, not other@1"):
        store.import_ratings_file(write(tmp_path, text, "o.csv"), engine=loaded, rubric="other")


def test_anchor_ratings_and_rounds(engine: Engine, tmp_path: Path) -> None:
    store.import_definition_dirs(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine)
    aset = store.stored_anchor_sets(engine=engine)[0]
    anchor = aset.anchors[0]
    rubric = {r.key: r for r in store.stored_rubrics(engine=engine)}[aset.rubric_key]
    lines = [
        f"{anchor.id},A1,{c},{anchor.scores[c]},{anchor.purpose},{aset.rubric_key},A1-r1"
        for c in rubric.criterion_ids
    ]
    live_line = f"S1,A1,{rubric.criterion_ids[0]},{rubric.scores[0]},live,{aset.rubric_key},"
    text = (
        "submission,assessor,criterion,score,context,rubric,round\n"
        + "\n".join([*lines, live_line])
        + "\n"
    )
    report = store.import_ratings_file(write(tmp_path, text), engine=engine)
    assert report.n_written == len(rubric.criteria) + 1
    r = store.load_ratings(engine=engine, contexts=[anchor.purpose])
    assert r.units == (f"anchor:{anchor.id}",)
    assert set(r.columns["round"].tolist()) == {"A1-r1"}
    live = store.load_ratings(engine=engine)  # the one live rating, in no calibration round
    assert live.units == ("S1",)
    assert live.columns["round"].tolist() == [""]
    assert store.counts(engine=engine)["calibration_attempt"] == 1


def test_corrections_keep_history(loaded: Engine, tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    store.import_ratings_file(path, engine=loaded, rubric="demo")
    with loaded.connect() as conn:
        first = conn.execute(sa.text("SELECT min(id) FROM rating")).scalar_one()
    new = store.correct_rating(first, 2, engine=loaded, recorded_by="lead", reason="typo")
    history = store.rating_history(new, engine=loaded)
    assert [(h["revision"], h["score"]) for h in history] == [(1, 3), (2, 2)]
    assert store.rating_history(first, engine=loaded) == history  # followed forwards too
    assert history[1]["recorded_by"] == "lead" and history[0]["recorded_by"] == "calibrate"
    assert history[1]["reason"] == "typo" and history[1]["supersedes_id"] == first
    assert sorted(store.load_ratings(engine=loaded).value.tolist()) == [1.0, 2.0, 2.0, 3.0]
    # the original file still adds nothing after the correction
    assert store.import_ratings_file(path, engine=loaded, rubric="demo").n_written == 0
    with pytest.raises(StoreError, match="already corrected"):
        store.correct_rating(first, 1, engine=loaded, recorded_by="lead", reason="again")
    with pytest.raises(StoreError, match="not a level"):
        store.correct_rating(new, 7, engine=loaded, recorded_by="lead", reason="bad")
    with pytest.raises(StoreError, match="no rating with id"):
        store.correct_rating(10_000, 1, engine=loaded, recorded_by="lead", reason="none")


def test_bad_urls() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        store.create_store_engine("not a url")
    with pytest.raises(StoreError, match="unsupported database"):
        store.create_store_engine("mysql://localhost/x")


def test_large_import_keeps_the_schema(loaded: Engine, tmp_path: Path) -> None:
    """A large import leaves the schema as the models say (it once dropped and re-added the
    rating table's foreign keys on PostgreSQL)."""
    n = 10_001
    body = "".join(f"S{i},A{i % 50},plan,{1 + i % 3}\nS{i},A{i % 50},reflect,2\n" for i in range(n))
    path = write(tmp_path, "submission,assessor,criterion,score\n" + body)
    assert store.import_ratings_file(path, engine=loaded, rubric="demo").n_written == 2 * n
    with loaded.connect() as conn:
        assert schema_differences(conn) == []
    assert len(store.load_ratings(engine=loaded)) == 2 * n


def test_text_values_survive_the_bulk_path(loaded: Engine, tmp_path: Path) -> None:
    """Keys and names with commas, quotes and backslashes are stored as given (tabs and other
    control characters are refused: see tests/test_store_guards.py)."""
    text = 'submission,assessor,criterion,score\n"S ""1""","A,\\1",plan,2\n'
    report = store.import_ratings_file(
        write(tmp_path, text), engine=loaded, rubric="demo", imported_by='lead "one" \\ ,'
    )
    assert report.n_written == 1
    r = store.load_ratings(engine=loaded)
    assert r.units == ('S "1"',) and r.raters == ("A,\\1",)
    with loaded.connect() as conn:
        stored = conn.execute(sa.text("SELECT recorded_by FROM rating")).scalar_one()
        assert stored == 'lead "one" \\ ,'


def test_history_from_any_revision(loaded: Engine, tmp_path: Path) -> None:
    """A chain of three revisions reads the same from its first, middle and last rating."""
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    with loaded.connect() as conn:
        first = conn.execute(sa.text("SELECT min(id) FROM rating")).scalar_one()
    middle = store.correct_rating(first, 2, engine=loaded, recorded_by="lead", reason="typo")
    last = store.correct_rating(middle, 1, engine=loaded, recorded_by="lead", reason="again")
    for rating_id in (first, middle, last):
        history = store.rating_history(rating_id, engine=loaded)
        # GOOD's first row scores 3; the corrections above give 2, then 1
        assert [(h["id"], h["revision"], h["score"]) for h in history] == [
            (first, 1, 3),
            (middle, 2, 2),
            (last, 3, 1),
        ]
    with pytest.raises(StoreError, match="no rating with id 10000"):
        store.rating_history(10_000, engine=loaded)


def test_malformed_rubric_version_is_a_clear_error(loaded: Engine, tmp_path: Path) -> None:
    """``demo@one`` is refused with a CalibrateError everywhere the store reads ``id@version``."""
    words = "rubric 'demo@one': the version after '@' must be a whole number"
    with pytest.raises(CalibrateError, match=words):
        store.load_ratings(engine=loaded, rubric="demo@one")
    with pytest.raises(CalibrateError, match=words):
        store.stored_rubric("demo@one", engine=loaded)
    with pytest.raises(CalibrateError, match=words):
        store.stored_anchor_sets(engine=loaded, rubric="demo@one")
    before = store.counts(engine=loaded)
    text = (
        "submission,assessor,criterion,score,rubric\nS1,A1,plan,3,demo@1\nS1,A2,plan,2,demo@one\n"
    )
    with pytest.raises(ValidationError) as info:
        store.import_ratings_file(write(tmp_path, text), engine=loaded)
    assert [(p.line, p.field) for p in info.value.problems] == [(3, "rubric")]
    assert words in info.value.problems[0].message
    with pytest.raises(ValidationError, match=words):
        store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo@one")
    assert store.counts(engine=loaded) == before


def test_stored_rubric_reads_only_the_chosen_rubric(engine: Engine, demo_rubric: Rubric) -> None:
    v2 = rubric_from_data({**demo_rubric.to_dict(), "version": 2}, source="v2")
    other = rubric_from_data({**demo_rubric.to_dict(), "id": "other"}, source="other")
    store.import_definitions([v2, demo_rubric, other], engine=engine)
    assert store.stored_rubric("demo@1", engine=engine) == demo_rubric
    assert store.stored_rubric("other", engine=engine) == other
    with pytest.raises(StoreError, match=r"several versions of demo \(demo@2, demo@1\)"):
        store.stored_rubric("demo", engine=engine)
    with pytest.raises(StoreError, match=r"\(stored: demo@1, demo@2, other@1\)"):
        store.stored_rubric("demo@3", engine=engine)


def test_stored_anchor_sets_of_one_rubric(engine: Engine) -> None:
    store.import_definition_dirs(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine)
    every = store.stored_anchor_sets(engine=engine)
    keys = sorted({s.rubric_key for s in every})
    assert len(keys) > 1  # the filter has something to leave out
    for key in keys:
        wanted = [s for s in every if s.rubric_key == key]
        assert store.stored_anchor_sets(engine=engine, rubric=key) == wanted
        assert store.stored_anchor_sets(engine=engine, rubric=key.split("@")[0]) == wanted
    assert store.stored_anchor_sets(engine=engine, rubric="nope") == []


def _anchor_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sets" / "demo" / "a.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_changed_anchor_set_is_refused_with_advice_that_works(
    engine: Engine, demo_rubric_file: Path, tmp_path: Path
) -> None:
    """A stored anchor set does not change; the refusal names the file, and its advice (new set
    id and new anchor ids) is what it takes to store the changed set."""
    rubrics, sets = demo_rubric_file.parent, tmp_path / "sets"
    path = _anchor_file(tmp_path, ANCHORS)
    store.import_definition_dirs(rubrics, sets, engine=engine)
    before = store.counts(engine=engine)
    changed = ANCHORS.replace("scores: {plan: 3, reflect: 2}", "scores: {plan: 2, reflect: 2}")
    assert changed != ANCHORS

    path.write_text(changed)
    with pytest.raises(ValidationError) as info:
        store.import_definition_dirs(rubrics, sets, engine=engine)
    assert [(p.source, p.field) for p in info.value.problems] == [(str(path), "id")]
    assert info.value.problems[0].message == (
        "anchor set demo-a is already stored with different content; stored anchor sets do not "
        "change: store the changed set under a new id, with new anchor ids (anchor ids are "
        "unique within a rubric version)"
    )
    assert store.counts(engine=engine) == before

    path.write_text(changed.replace("id: demo-a", "id: demo-b"))  # a new set id only
    with pytest.raises(ValidationError) as info:
        store.import_definition_dirs(rubrics, sets, engine=engine)
    assert [(p.source, p.field, p.message) for p in info.value.problems] == [
        (
            str(path),
            "anchors.id",
            f"anchor {a} of demo@1 is already stored in anchor set demo-a; give it a new id "
            "(anchor ids are unique within a rubric version)",
        )
        for a in ("demo-01", "demo-02")
    ]
    assert store.counts(engine=engine) == before

    renamed = changed.replace("id: demo-a", "id: demo-b").replace("- id: demo-0", "- id: demo-1")
    path.write_text(renamed)  # the advice followed: new set id and new anchor ids
    report = store.import_definition_dirs(rubrics, sets, engine=engine)
    assert (report.n_written, report.n_unchanged) == (1, 1)  # the set; the rubric was stored
    after = store.counts(engine=engine)
    assert after["anchor_set"] == before["anchor_set"] + 1
    assert after["anchor"] == before["anchor"] + 2  # ANCHORS holds two anchors


def test_anchor_set_of_unstored_rubric_names_its_file(
    engine: Engine, demo_rubric: Rubric, tmp_path: Path
) -> None:
    path = _anchor_file(tmp_path, ANCHORS)
    aset = load_anchor_set(path, demo_rubric)
    with pytest.raises(ValidationError) as info:
        store.import_definitions([], [aset], engine=engine)
    assert [(p.source, p.message) for p in info.value.problems] == [
        (str(path), "anchor set demo-a: rubric demo@1 is not stored")
    ]
    assert not any(store.counts(engine=engine).values())


def test_empty_anchor_folder_writes_nothing(
    engine: Engine, demo_rubric_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "sets").mkdir()
    with pytest.raises(ValidationError, match="no anchor-set files"):
        store.import_definition_dirs(demo_rubric_file.parent, tmp_path / "sets", engine=engine)
    assert not any(store.counts(engine=engine).values())
    report = store.import_definition_dirs(demo_rubric_file.parent, None, engine=engine)
    assert report.n_written == 1  # no folder given: no anchor sets, as before
