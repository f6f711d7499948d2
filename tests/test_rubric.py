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


# --- level keys, versions and ids within bounds ---------------------------------------------------


@pytest.mark.parametrize("key", ["0x1", "01", "1.0", "0b1", "+1"])
def test_descriptor_keys_of_the_same_level_are_refused(tmp_path: Path, key: str) -> None:
    """``1`` and ``0x1`` (``01``, ``1.0``...) are the same level: refused, not one descriptor
    silently overwriting the other."""
    text = DEMO_RUBRIC.replace("{1: No plan.,", f"{{1: No plan., {key}: Another plan.,")
    line = 16
    assert problems_of(tmp_path, text) == [
        (
            line,
            f"criteria[0].descriptors.{key}",
            f"duplicate key {key!r} (the same key as '1' on line {line})",
        )
    ]


@pytest.mark.parametrize("key", ["'1'", "' 1'", "'01'", "'1.0'"])
def test_descriptor_keys_equal_once_read_as_levels_are_refused(tmp_path: Path, key: str) -> None:
    """Text keys that the integer descriptor mapping reads as an existing level are refused."""
    text = DEMO_RUBRIC.replace("{1: No plan.,", f"{{1: No plan., {key}: Another plan.,")
    raw = key.strip("'")
    assert problems_of(tmp_path, text) == [
        (
            16,
            f"criteria[0].descriptors.{raw}",
            f"descriptor keys 1 and {raw!r} both name level 1; give each level one descriptor",
        )
    ]


def test_boolean_descriptor_key_is_refused(tmp_path: Path) -> None:
    text = DEMO_RUBRIC.replace("{1: No plan.,", "{true: No plan.,")
    found = problems_of(tmp_path, text)
    assert (16, "criteria[0].descriptors.True", "level key True is not a level score") in found


@pytest.mark.parametrize(
    "text", ["demo@2147483648", "demo@100000000000000000000", "demo@" + "9" * 5_000]
)
def test_parse_rubric_key_bounds_the_version(text: str) -> None:
    """Rubric versions are whole numbers 1..2_147_483_647 (a 32-bit column): 10**20 is a clear
    error, and 5,000 digits not a ValueError from int()."""
    with pytest.raises(CalibrateError, match="must be a whole number from 1 to 2_147_483_647"):
        parse_rubric_key(text)
    assert parse_rubric_key("demo@2147483647") == ("demo", 2_147_483_647)


def test_parse_rubric_key_bounds_the_id() -> None:
    assert parse_rubric_key("d" * 100 + "@1") == ("d" * 100, 1)
    with pytest.raises(CalibrateError, match="is 101 characters long \\(at most 100\\)"):
        parse_rubric_key("d" * 101)


@pytest.mark.parametrize(
    ("version", "ok"),
    [("2147483647", True), ("2147483648", False), ("100000000000000000000", False)],
)
def test_rubric_version_field_is_bounded(tmp_path: Path, version: str, ok: bool) -> None:
    text = DEMO_RUBRIC.replace("version: 1\n", f"version: {version}\n")
    if ok:
        path = tmp_path / "r.yaml"
        path.write_text(text)
        assert load_rubric(path).version == int(version)
    else:
        assert problems_of(tmp_path, text) == [
            (2, "version", "Input should be less than or equal to 2147483647")
        ]


@pytest.mark.parametrize(
    ("old", "line", "field"),
    [
        ("id: demo\n", 1, "id"),
        ("  - id: plan\n", 13, "criteria[0].id"),
        ("  - {id: plan,", 10, "parts[0].id"),
    ],
)
def test_ids_are_at_most_100_characters(tmp_path: Path, old: str, line: int, field: str) -> None:
    """Ids fit the store's key columns (``max_length=100``)."""
    assert old in DEMO_RUBRIC
    found = problems_of(
        tmp_path,
        DEMO_RUBRIC.replace(old, old.replace("demo", "d" * 101).replace("plan", "p" * 101), 1),
    )
    assert (line, field, "must be at most 100 characters") in found, found
