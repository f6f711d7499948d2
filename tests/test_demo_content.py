"""The demo rubrics and anchor sets validate and have the properties the demo promises (issue 5).

A new user and a state-board reviewer see these files first, and the simulator and the agreement
statistics are tested against them, so their shape is checked here: every file loads through the
same loaders the CLI uses, the anchors cover every level of every criterion at least twice, and each
rubric has practice, qualification (a pool of at least two rounds, so that a first retake draws
anchors the assessor has not seen, covering the scale) and validity anchors.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from calibrate.anchors import PURPOSES, Anchor, load_anchor_set, load_anchor_sets
from calibrate.rubric import Rubric, load_rubric, load_rubrics
from calibrate.rules import rules_for

ROOT = Path(__file__).resolve().parents[1]
RUBRICS = ROOT / "rubrics"
ANCHOR_SETS = ROOT / "anchor_sets"
RUBRIC_FILES = sorted(RUBRICS.glob("*.yaml"))
ANCHOR_FILES = sorted(ANCHOR_SETS.glob("*/*.yaml"))

MIN_ANCHORS = 18
MIN_PER_LEVEL = 2
ROUND = rules_for(levels=3).qualification.anchors  # anchors per round (NAEP: 10 to 12)


def _anchors(rubric: Rubric) -> list[Anchor]:
    return [
        a
        for path in sorted((ANCHOR_SETS / rubric.id).glob("*.yaml"))
        for a in load_anchor_set(path, rubric).anchors
    ]


def test_demo_files_exist() -> None:
    assert len(RUBRIC_FILES) >= 3
    assert ANCHOR_FILES


@pytest.mark.parametrize("path", RUBRIC_FILES, ids=lambda p: p.stem)
def test_rubric_validates_and_has_the_issuer_shape(path: Path) -> None:
    rubric = load_rubric(path)
    assert rubric.id == path.stem, "file name must be the rubric id"
    assert 4 <= len(rubric.criteria) <= 6
    # the four-part structure (Research and plan / Implement / Analyze / Share and reflect)
    assert [p.title for p in rubric.parts] == [
        "Research and plan",
        "Implement",
        "Analyze",
        "Share and reflect",
    ]
    assert {c.part for c in rubric.criteria} == {p.id for p in rubric.parts}
    # conjunctive pass rule: every criterion at "Demonstrated" or "Proficient"
    rule = rubric.pass_rule
    assert rule.every_criterion_at_least is not None
    assert rubric.label(rule.every_criterion_at_least) in {"Demonstrated", "Proficient"}
    assert not rule.criteria_at_least and rule.total_at_least is None
    # descriptors differ between every pair of levels of a criterion
    for c in rubric.criteria:
        texts = [c.descriptors[s] for s in rubric.scores]
        assert len(set(texts)) == len(texts), c.id


def test_rubrics_use_a_three_and_a_four_level_scale() -> None:
    scales = {tuple(lv.label for lv in r.levels) for r in load_rubrics(RUBRICS)}
    assert ("Not met", "Progressing", "Demonstrated") in scales
    assert ("Not yet", "Progressing", "Proficient", "Exemplary") in scales


@pytest.mark.parametrize("path", ANCHOR_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_anchor_set_validates_against_its_rubric(path: Path) -> None:
    rubric = load_rubric(RUBRICS / f"{path.parent.name}.yaml")
    anchor_set = load_anchor_set(path, rubric)
    assert anchor_set.rubric_id == rubric.id == path.parent.name
    assert anchor_set.rubric_version == rubric.version
    for a in anchor_set.anchors:
        assert a.artifact.excerpt and a.artifact.description, a.id


def test_all_anchor_sets_load_together() -> None:
    """Set ids and anchor ids are unique across files (checked by the directory loader)."""
    rubrics = {(r.id, r.version): r for r in load_rubrics(RUBRICS)}
    sets = load_anchor_sets(ANCHOR_SETS, rubrics)
    assert {s.rubric_id for s in sets} == {rid for rid, _ in rubrics}


@pytest.mark.parametrize("path", RUBRIC_FILES, ids=lambda p: p.stem)
def test_anchors_cover_every_level_of_every_criterion_twice(path: Path) -> None:
    rubric = load_rubric(path)
    anchors = _anchors(rubric)
    assert len(anchors) >= MIN_ANCHORS
    for c in rubric.criterion_ids:
        counts = Counter(a.scores[c] for a in anchors)
        thin = {rubric.label(s): counts[s] for s in rubric.scores if counts[s] < MIN_PER_LEVEL}
        assert not thin, f"{rubric.id} {c}: levels with fewer than {MIN_PER_LEVEL} anchors {thin}"


@pytest.mark.parametrize("path", RUBRIC_FILES, ids=lambda p: p.stem)
def test_every_purpose_present_and_qualification_covers_the_scale(path: Path) -> None:
    rubric = load_rubric(path)
    anchors = _anchors(rubric)
    purposes = Counter(a.purpose for a in anchors)
    assert set(purposes) == set(PURPOSES)
    assert purposes["qualification"] >= 2 * ROUND
    qualification = [a for a in anchors if a.purpose == "qualification"]
    for c in rubric.criterion_ids:
        seen = {a.scores[c] for a in qualification}
        missing = [rubric.label(s) for s in rubric.scores if s not in seen]
        assert not missing, f"{rubric.id} {c}: qualification set lacks {missing}"


@pytest.mark.parametrize("path", RUBRIC_FILES, ids=lambda p: p.stem)
def test_anchors_mix_pass_fail_and_borderline_cases(path: Path) -> None:
    rubric = load_rubric(path)
    anchors = _anchors(rubric)
    scores = np.array([[a.scores[c] for c in rubric.criterion_ids] for a in anchors])
    passed = rubric.passes(scores)
    assert rubric.pass_rule.every_criterion_at_least is not None
    below = (scores < rubric.pass_rule.every_criterion_at_least).sum(axis=1)
    assert passed.sum() >= 3, "some anchors pass the conjunctive rule"
    assert (below == 1).sum() >= 5, "many fail on one criterion only (the realistic case)"
    assert (below >= 2).sum() >= 3, "some fail on several criteria"
    for purpose in PURPOSES:
        group = [p for a, p in zip(anchors, passed, strict=True) if a.purpose == purpose]
        assert any(group) and not all(group), f"{purpose}: pass and fail both present"
    borderline = [a.id for a in anchors if any("Borderline" in t for t in a.rationale.values())]
    assert len(borderline) >= 3, "borderline cases are marked in the rationale"
