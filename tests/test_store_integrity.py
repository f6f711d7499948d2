"""What is stored does not change under a later import, and a correction changes something, on
both backends: a calibration round stays one assessor's attempt at one rubric version in one
context; a submission keeps its earner and attempt; a correction needs a new score and a reason.
Each refusal names the line and writes nothing (before, the second assessor's rating was linked to
the first one's round, and a different earner or attempt was dropped silently)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import store
from calibrate.anchors import load_anchor_sets
from calibrate.errors import StoreError, ValidationError
from calibrate.rubric import Rubric, rubric_from_data
from tests.test_anchors import ANCHORS
from tests.test_store import GOOD, write

ANCHOR_HEADER = "submission,assessor,criterion,score,context,rubric,round\n"


@pytest.fixture
def anchored(engine: Engine, demo_rubric: Rubric, tmp_path: Path) -> Engine:
    """demo@1 with anchor set demo-a (demo-01 practice, demo-02 qualification), and demo@2 with
    the same anchors as demo-11 and demo-12."""
    v2 = rubric_from_data({**demo_rubric.to_dict(), "version": 2}, source="v2")
    folder = tmp_path / "sets" / "demo"
    folder.mkdir(parents=True)
    (folder / "a.yaml").write_text(ANCHORS)
    (folder / "b.yaml").write_text(
        ANCHORS.replace("id: demo-a", "id: demo-b")
        .replace("rubric_version: 1", "rubric_version: 2")
        .replace("- id: demo-0", "- id: demo-1")
    )
    rubrics = [demo_rubric, v2]
    sets = load_anchor_sets(tmp_path / "sets", {(r.id, r.version): r for r in rubrics})
    store.import_definitions(rubrics, sets, engine=engine)
    store.import_ratings_file(
        write(tmp_path, ANCHOR_HEADER + "demo-01,A1,plan,3,practice,demo@1,R1\n", "r1.csv"),
        engine=engine,
    )
    return engine


@pytest.mark.parametrize(
    ("row", "words"),
    [
        (
            "demo-01,A2,reflect,2,practice,demo@1,R1",
            "round 'R1' is stored as A1's practice round on demo@1, not A2's practice round on "
            "demo@1: a round is one assessor's attempt at one rubric in one context",
        ),
        (
            "demo-02,A1,plan,1,qualification,demo@1,R1",
            "round 'R1' is stored as A1's practice round on demo@1, not A1's qualification round",
        ),
        (
            "demo-11,A1,plan,3,practice,demo@2,R1",
            "round 'R1' is stored as A1's practice round on demo@1, not A1's practice round on "
            "demo@2",
        ),
    ],
)
def test_round_stored_for_another_assessor_rubric_or_context_is_refused(
    anchored: Engine, tmp_path: Path, row: str, words: str
) -> None:
    before = store.counts(engine=anchored)
    text = ANCHOR_HEADER + "demo-02,A1,reflect,3,practice,demo@1,R2\n" + row + "\n"
    with pytest.raises(ValidationError) as info:
        store.import_ratings_file(write(tmp_path, text, "r2.csv"), engine=anchored)
    assert [(p.line, p.field) for p in info.value.problems] == [(3, "round")]
    assert words in info.value.problems[0].message
    assert store.counts(engine=anchored) == before


def test_round_of_the_same_assessor_continues(anchored: Engine, tmp_path: Path) -> None:
    text = ANCHOR_HEADER + "demo-01,A1,reflect,2,practice,demo@1,R1\n"
    report = store.import_ratings_file(write(tmp_path, text, "r2.csv"), engine=anchored)
    assert report.n_written == 1
    assert store.counts(engine=anchored)["calibration_attempt"] == 1


@pytest.mark.parametrize(
    ("header", "row", "field", "words"),
    [
        (
            "submission,assessor,criterion,score,earner,attempt",
            "S1,A3,plan,2,E9,1",
            "earner",
            "submission 'S1' is stored with earner 'E1', not 'E9': a stored submission keeps "
            "its earner",
        ),
        (
            "submission,assessor,criterion,score,earner,attempt",
            "S1,A3,plan,2,E1,2",
            "attempt",
            "submission 'S1' is stored as attempt 1, not attempt 2: a stored submission keeps "
            "its attempt",
        ),
        (
            "submission,assessor,criterion,score,earner",
            "S3,A3,plan,2,E3",
            "earner",
            "submission 'S3' is stored without an earner, not 'E3'",
        ),
    ],
)
def test_submission_stored_with_another_earner_or_attempt_is_refused(
    loaded: Engine, tmp_path: Path, header: str, row: str, field: str, words: str
) -> None:
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    plain = "submission,assessor,criterion,score\nS3,A1,plan,2\n"  # S3: no earner, no attempt
    store.import_ratings_file(write(tmp_path, plain, "plain.csv"), engine=loaded, rubric="demo")
    before = store.counts(engine=loaded)
    text = f"{header}\nS2,A3,plan,1{',E1,2' if 'attempt' in header else ',E1'}\n{row}\n"
    with pytest.raises(ValidationError) as info:
        store.import_ratings_file(write(tmp_path, text, "again.csv"), engine=loaded, rubric="demo")
    assert [(p.line, p.field) for p in info.value.problems] == [(3, field)]
    assert words in info.value.problems[0].message
    assert store.counts(engine=loaded) == before


def test_submission_named_without_earner_or_attempt_is_the_stored_one(
    loaded: Engine, tmp_path: Path
) -> None:
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    text = "submission,assessor,criterion,score,earner,attempt\nS1,A3,plan,2,,\n"
    report = store.import_ratings_file(write(tmp_path, text, "b.csv"), engine=loaded, rubric="demo")
    assert report.n_written == 1


def first_rating(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id, score FROM rating ORDER BY id LIMIT 1")).one()
    return int(row[0]), int(row[1])


def test_correction_to_the_same_score_is_refused(loaded: Engine, tmp_path: Path) -> None:
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    rating_id, score = first_rating(loaded)
    before = store.counts(engine=loaded)
    with pytest.raises(
        StoreError,
        match=f"rating {rating_id} already has score {score}: a correction changes the score",
    ):
        store.correct_rating(rating_id, score, engine=loaded, recorded_by="lead", reason="check")
    assert store.counts(engine=loaded) == before
    assert len(store.rating_history(rating_id, engine=loaded)) == 1


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_correction_needs_a_reason(loaded: Engine, tmp_path: Path, reason: str) -> None:
    store.import_ratings_file(write(tmp_path, GOOD), engine=loaded, rubric="demo")
    rating_id, _ = first_rating(loaded)
    before = store.counts(engine=loaded)
    with pytest.raises(StoreError, match="a correction needs a reason: say why the score changes"):
        store.correct_rating(rating_id, 1, engine=loaded, recorded_by="lead", reason=reason)
    assert store.counts(engine=loaded) == before
