"""Anchor-set files: validated against the rubric version they name; every rule names its field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from calibrate.anchors import anchor_set_from_data, load_anchor_set, load_anchor_sets
from calibrate.errors import ValidationError
from calibrate.rubric import Rubric

ANCHORS = """\
id: demo-a
rubric: demo
rubric_version: 1
title: Demo anchors
purpose: practice
anchors:
  - id: demo-01
    artifact:
      title: Plan and reflection
      excerpt: The plan cites last year's exit tickets.
    scores: {plan: 3, reflect: 2}
    rationale:
      plan: Built on evidence (exit tickets). Demonstrated.
      reflect: Describes events only. Progressing.
  - id: demo-02
    purpose: qualification
    artifact:
      title: Reflection only
      description: A one-page reflection.
    scores: {plan: 1, reflect: 3}
    rationale:
      plan: No plan submitted. Not met.
      reflect: Draws a lesson for next term. Demonstrated.
"""


def problems_of(
    tmp_path: Path, text: str, rubric: Rubric
) -> list[tuple[int | None, str | None, str]]:
    path = tmp_path / "a.yaml"
    path.write_text(text)
    with pytest.raises(ValidationError) as info:
        load_anchor_set(path, rubric)
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_loads_with_purposes(tmp_path: Path, demo_rubric: Rubric) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(ANCHORS)
    aset = load_anchor_set(path, demo_rubric)
    assert [a.purpose for a in aset.anchors] == ["practice", "qualification"]
    assert aset.expert_scores(demo_rubric.criterion_ids).tolist() == [[3, 2], [1, 3]]
    assert [a.id for a in aset.with_purpose("qualification")] == ["demo-02"]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        (
            "rubric_version: 1",
            "rubric_version: 2",
            3,
            "rubric_version",
            "unknown rubric version demo@2",
        ),
        (
            "scores: {plan: 3, reflect: 2}",
            "scores: {plan: 3}",
            11,
            "anchors[0].scores",
            "missing scores for criterion 'reflect'",
        ),
        (
            "scores: {plan: 3, reflect: 2}",
            "scores: {plan: 4, reflect: 2}",
            11,
            "anchors[0].scores.plan",
            "score 4 is not a level of demo@1",
        ),
        (
            "scores: {plan: 3, reflect: 2}",
            "scores: {plan: 3, reflect: 2, voice: 1}",
            11,
            "anchors[0].scores.voice",
            "unknown criterion 'voice'",
        ),
        (
            "      reflect: Describes events only. Progressing.\n",
            "",
            12,
            "anchors[0].rationale",
            "missing rationale for criterion 'reflect'",
        ),
        ("  - id: demo-02", "  - id: demo-01", 15, "anchors[1].id", "duplicate anchor id"),
        ("purpose: practice\n", "", 6, "anchors[0].purpose", "purpose missing"),
        (
            "    purpose: qualification",
            "    purpose: exam",
            16,
            "anchors[1].purpose",
            "must be 'practice', 'qualification' or 'validity'",
        ),
        (
            "      description: A one-page reflection.\n",
            "",
            17,
            "anchors[1].artifact",
            "needs an excerpt or a description",
        ),
        ("title: Demo anchors\n", "", 1, "title", "required field is missing"),
    ],
)
def test_each_rule_names_line_and_field(
    tmp_path: Path, demo_rubric: Rubric, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in ANCHORS
    found = problems_of(tmp_path, ANCHORS.replace(old, new, 1), demo_rubric)
    assert any(ln == line and f == field and words in msg for ln, f, msg in found), found


def test_anchor_ids_unique_across_sets(tmp_path: Path, demo_rubric: Rubric) -> None:
    folder = tmp_path / "sets" / "demo"
    folder.mkdir(parents=True)
    (folder / "a.yaml").write_text(ANCHORS)
    (folder / "b.yaml").write_text(ANCHORS.replace("id: demo-a", "id: demo-b"))
    with pytest.raises(ValidationError, match="anchor id 'demo-01' in both demo-a and demo-b"):
        load_anchor_sets(tmp_path / "sets", {("demo", 1): demo_rubric})


@pytest.mark.parametrize("misplaced", [None, "a.yaml"])
def test_folder_without_anchor_sets_is_an_error(
    tmp_path: Path, demo_rubric: Rubric, misplaced: str | None
) -> None:
    """An empty folder, or files not in ``<rubric-id>/`` folders, is refused like load_rubrics'."""
    folder = tmp_path / "sets"
    folder.mkdir()
    if misplaced:
        (folder / misplaced).write_text(ANCHORS)
    with pytest.raises(ValidationError) as info:
        load_anchor_sets(folder, {("demo", 1): demo_rubric})
    assert [(p.source, p.message) for p in info.value.problems] == [
        (str(folder), "no anchor-set files (<rubric-id>/*.yaml) in this folder")
    ]


def test_anchor_set_remembers_its_file(tmp_path: Path, demo_rubric: Rubric) -> None:
    folder = tmp_path / "sets" / "demo"
    folder.mkdir(parents=True)
    (folder / "a.yaml").write_text(ANCHORS)
    [aset] = load_anchor_sets(tmp_path / "sets", {("demo", 1): demo_rubric})
    assert aset.source == str(folder / "a.yaml")
    stored = anchor_set_from_data(yaml.safe_load(ANCHORS), demo_rubric, source="store:demo-a")
    assert stored.source == "store:demo-a"
    assert stored == aset  # where a set was read from is not part of its content


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("id: demo-a\n", "id: " + "a" * 101 + "\n", 1, "id", "must be at most 100 characters"),
        (
            "  - id: demo-01\n",
            "  - id: " + "a" * 101 + "\n",
            7,
            "anchors[0].id",
            "must be at most 100 characters",
        ),
        (
            "rubric: demo\n",
            "rubric: " + "d" * 101 + "\n",
            2,
            "rubric",
            "must be at most 100 characters",
        ),
        (
            "rubric_version: 1\n",
            "rubric_version: 100000000000000000000\n",
            3,
            "rubric_version",
            "Input should be less than or equal to 2147483647",
        ),
    ],
)
def test_ids_and_rubric_version_are_bounded(
    tmp_path: Path, demo_rubric: Rubric, old: str, new: str, line: int, field: str, message: str
) -> None:
    """Ids fit the store's key columns (at most 100 characters), rubric versions a 32-bit
    column (1..2_147_483_647): clear problems, not database errors."""
    assert old in ANCHORS
    found = problems_of(tmp_path, ANCHORS.replace(old, new, 1), demo_rubric)
    assert (line, field, message) in found, found


def test_anchor_file_with_an_alias_is_refused(tmp_path: Path, demo_rubric: Rubric) -> None:
    """YAML aliases are refused in anchor sets too (they share the rubric reader)."""
    text = ANCHORS.replace(
        "    scores: {plan: 3, reflect: 2}", "    scores: &s {plan: 3, reflect: 2}"
    ).replace("    scores: {plan: 1, reflect: 3}", "    scores: *s")
    found = problems_of(tmp_path, text, demo_rubric)
    assert found == [(20, None, "invalid YAML: aliases (*s) are not allowed; write the value out")]
