"""Rubric files: every validation rule names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibrate.errors import CalibrateError, ValidationError
from calibrate.rubric import load_rubric, load_rubrics, parse_rubric_key
from tests.conftest import DEMO_RUBRIC


def problems_of(tmp_path: Path, text: str) -> list[tuple[int | None, str | None, str]]:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValidationError) as info:
        load_rubric(path)
    for p in info.value.problems:
        assert p.source == str(path)
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_demo_rubric_loads(demo_rubric_file: Path) -> None:
    rubric = load_rubric(demo_rubric_file)
    assert rubric.key == "demo@1"
    assert rubric.scores == (1, 2, 3)
    assert rubric.criterion_ids == ("plan", "reflect")
    assert rubric.pass_rule.every_criterion_at_least == 3


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("  - id: reflect\n", "  - id: plan\n", 17, "criteria[1].id", "duplicate criterion id"),
        ("  - {id: reflect, title", "  - {id: plan, title", 11, "parts[1].id", "duplicate part id"),
        (
            "{score: 3, label: Demonstrated}",
            "{score: 4, label: Demonstrated}",
            5,
            "levels",
            "consecutive",
        ),
        (
            "{score: 3, label: Demonstrated}",
            "{score: 2, label: Demonstrated}",
            5,
            "levels",
            "duplicate level score",
        ),
        (
            "{score: 3, label: Demonstrated}",
            "{score: 3, label: Progressing}",
            5,
            "levels",
            "duplicate level label",
        ),
        (
            ", 3: A plan built on evidence.}",
            "}",
            16,
            "criteria[0].descriptors",
            "missing descriptor for level 3",
        ),
        (
            "{1: No reflection.,",
            "{0: x, 1: No reflection.,",
            20,
            "criteria[1].descriptors.0",
            "unknown level 0",
        ),
        ("    part: reflect\n", "    part: analyze\n", 19, "criteria[1].part", "unknown part"),
        ("    part: reflect\n", "", 17, "criteria[1].part", "must name its part"),
        (
            "  every_criterion_at_least: Demonstrated",
            "  criteria_at_least: {planning: Demonstrated}",
            22,
            "pass_rule.criteria_at_least.planning",
            "unknown criterion",
        ),
        (
            "  every_criterion_at_least: Demonstrated",
            "  every_criterion_at_least: Mastered",
            22,
            "pass_rule.every_criterion_at_least",
            "unknown level",
        ),
        (
            "  every_criterion_at_least: Demonstrated",
            "  total_at_least: 7",
            22,
            "pass_rule.total_at_least",
            "no submission can meet",
        ),
        (
            "  every_criterion_at_least: Demonstrated",
            "  every_one: 3",
            22,
            "pass_rule.every_one",
            "unknown pass-rule condition",
        ),
        ("title: Demo credential\n", "", 1, "title", "required field is missing"),
        ("version: 1\n", "version: one\n", 2, "version", "integer"),
        ("version: 1\n", "version: 1\nversion: 2\n", 3, "version", "duplicate key"),
        ("id: demo\n", "id: Demo Rubric\n", 1, "id", "lowercase"),
    ],
)
def test_each_rule_names_line_and_field(
    tmp_path: Path, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in DEMO_RUBRIC
    found = problems_of(tmp_path, DEMO_RUBRIC.replace(old, new, 1))
    assert any(f == field and words in msg and ln == line for ln, f, msg in found), found


def test_all_problems_reported_at_once(tmp_path: Path) -> None:
    text = DEMO_RUBRIC.replace("    part: reflect\n", "    part: nope\n").replace(
        "Demonstrated\n", "Mastered\n"
    )
    assert len(problems_of(tmp_path, text)) == 2


def test_invalid_yaml_and_non_utf8(tmp_path: Path) -> None:
    found = problems_of(tmp_path, "id: [unclosed\n")
    assert "invalid YAML" in found[0][2]
    path = tmp_path / "latin.yaml"
    path.write_bytes("title: caf\xe9".encode("latin-1"))
    with pytest.raises(ValidationError, match="not UTF-8"):
        load_rubric(path)


def test_control_character_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    """YAML forbids C0 control characters other than tab and newlines (YAML 1.1, 5.1)."""
    text = DEMO_RUBRIC.replace("title: Plans", "title: Pl\x07ans")
    line = text[: text.index("\x07")].count("\n") + 1
    assert problems_of(tmp_path, text) == [
        (line, None, "invalid YAML: control character U+0007 is not allowed")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("demo@1", ("demo", 1)), ("demo@12", ("demo", 12)), ("demo", ("demo", None))],
)
def test_parse_rubric_key(text: str, expected: tuple[str, int | None]) -> None:
    assert parse_rubric_key(text) == expected


@pytest.mark.parametrize("text", ["demo@one", "demo@", "demo@0", "demo@-1", "demo@1.5", "demo@1@2"])
def test_parse_rubric_key_refuses_bad_versions(text: str) -> None:
    with pytest.raises(CalibrateError, match=f"rubric '{text}': the version after '@' must be"):
        parse_rubric_key(text)


def test_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no such file or folder"):
        load_rubrics(tmp_path / "missing")
    with pytest.raises(ValidationError, match="no rubric files"):
        load_rubrics(tmp_path)
    (tmp_path / "a.yaml").write_text(DEMO_RUBRIC)
    (tmp_path / "b.yaml").write_text(DEMO_RUBRIC)
    with pytest.raises(ValidationError, match="demo@1 defined twice"):
        load_rubrics(tmp_path)


def test_pass_rules(tmp_path: Path) -> None:
    text = DEMO_RUBRIC.replace(
        "  every_criterion_at_least: Demonstrated",
        "  every_criterion_at_least: 2\n  criteria_at_least: {plan: 3}\n  total_at_least: 5",
    )
    path = tmp_path / "r.yaml"
    path.write_text(text)
    rubric = load_rubric(path)
    scores = np.array([[3, 2], [2, 3], [3, 1], [3, 3]])
    # every >= 2, plan >= 3, total >= 5
    assert rubric.passes(scores).tolist() == [True, False, False, True]


def test_content_hash_tracks_content(demo_rubric_file: Path, tmp_path: Path) -> None:
    a = load_rubric(demo_rubric_file)
    other = tmp_path / "o.yaml"
    other.write_text(DEMO_RUBRIC.replace("No plan.", "No plan at all."))
    assert a.content_hash() == load_rubric(demo_rubric_file).content_hash()
    assert a.content_hash() != load_rubric(other).content_hash()
