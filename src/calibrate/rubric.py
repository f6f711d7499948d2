"""Rubrics: ordered levels, criteria with a descriptor per level, optional parts, and a pass rule.

A rubric is read from a reviewed YAML file (format: ``docs/formats.md``) into a frozen
:class:`Rubric`. Validation reports every problem at once, each with file, line and field path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from calibrate.errors import CalibrateError, Problem, ValidationError
from calibrate.yamlfile import Locator, format_path, pydantic_message, read_yaml

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]*$"
MAX_ID_LENGTH = 100  # ids of rubrics, parts, criteria, anchors, anchor sets: the store's key width
MAX_VERSION = 2_147_483_647  # rubric versions are 1..2**31 - 1 (a 32-bit integer column)
MAX_SCORE = 2_147_483_647  # level scores lie within -MAX_SCORE..MAX_SCORE (32-bit)
MAX_CRITERIA = 8


def parse_rubric_key(text: str) -> tuple[str, int | None]:
    """Split a rubric reference ``id@version`` (or a bare ``id``) into id and version.

    Returns
    -------
    id : str
    version : int or None
        None for a bare id; what that means is up to the caller (e.g. the latest stored version).

    Raises
    ------
    CalibrateError
        The part after ``@`` is not a whole number 1..2_147_483_647 (:data:`MAX_VERSION`), or
        the id is longer than :data:`MAX_ID_LENGTH` characters.

    Examples
    --------
    >>> parse_rubric_key("ct-unplugged@2")
    ('ct-unplugged', 2)
    >>> parse_rubric_key("ct-unplugged")
    ('ct-unplugged', None)
    """
    rid, at, version = text.partition("@")
    if len(rid) > MAX_ID_LENGTH:
        raise CalibrateError(
            f"rubric id {rid[:20]!r}... is {len(rid)} characters long (at most {MAX_ID_LENGTH})"
        )
    if not at:
        return rid, None
    if (
        not (version.isascii() and version.isdigit())
        or len(version) > len(str(MAX_VERSION))
        or not 1 <= int(version) <= MAX_VERSION
    ):
        shown = repr(text) if len(text) <= 60 else repr(text[:50]) + "..."
        raise CalibrateError(
            f"rubric {shown}: the version after '@' must be a whole number from 1 to "
            f"{MAX_VERSION:_} (ID@VERSION)"
        )
    return rid, int(version)


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Level(_Model):
    """One ordered score of the rubric's scale."""

    score: StrictInt = Field(ge=-MAX_SCORE, le=MAX_SCORE)
    label: StrictStr = Field(min_length=1)


class Part(_Model):
    """A group of criteria (e.g. *Research and plan*)."""

    id: StrictStr = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    title: StrictStr = Field(min_length=1)


class Criterion(_Model):
    """One scored criterion with a descriptor for every level score."""

    id: StrictStr = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    title: StrictStr = Field(min_length=1)
    part: StrictStr | None = None
    descriptors: dict[int, StrictStr]


class PassRule(_Model):
    """Conditions a submission must all meet to pass (at least one is given).

    ``every_criterion_at_least`` is the conjunctive rule issuers use; ``criteria_at_least`` names
    criteria with their minimum level; ``total_at_least`` bounds the sum of criterion scores. Levels
    are given as a label or a score and stored as scores.
    """

    every_criterion_at_least: int | None = None
    criteria_at_least: dict[str, int] = Field(default_factory=dict)
    total_at_least: int | None = None


class _RubricFile(_Model):
    id: StrictStr = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    version: StrictInt = Field(ge=1, le=MAX_VERSION)
    title: StrictStr = Field(min_length=1)
    competency: StrictStr = Field(min_length=1)
    levels: list[Level] = Field(min_length=2)
    parts: list[Part] = Field(default_factory=list)
    criteria: list[Criterion] = Field(min_length=1, max_length=MAX_CRITERIA)
    pass_rule: dict[str, Any]


@dataclass(frozen=True)
class Rubric:
    """A validated rubric version.

    Attributes
    ----------
    id, version, title, competency
        Identity and statement of the competency certified.
    levels : tuple of Level
        Ordered lowest first; scores are consecutive integers.
    parts : tuple of Part
        Optional grouping of criteria.
    criteria : tuple of Criterion
        1 to 8 criteria, in the order of the file.
    pass_rule : PassRule
        Scores, not labels.
    """

    id: str
    version: int
    title: str
    competency: str
    levels: tuple[Level, ...]
    parts: tuple[Part, ...]
    criteria: tuple[Criterion, ...]
    pass_rule: PassRule

    @property
    def key(self) -> str:
        """``id@version``, the form used in ratings files and messages."""
        return f"{self.id}@{self.version}"

    @property
    def scores(self) -> tuple[int, ...]:
        return tuple(level.score for level in self.levels)

    @property
    def criterion_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.criteria)

    def label(self, score: int) -> str:
        """The label of a level score."""
        return next(level.label for level in self.levels if level.score == score)

    def passes(
        self, scores: NDArray[np.integer[Any]] | Sequence[Sequence[int]]
    ) -> NDArray[np.bool_]:
        """Apply the pass rule to criterion scores.

        Parameters
        ----------
        scores : array of shape (m, n_criteria)
            One row per scored submission, columns in the order of :attr:`criteria`.

        Returns
        -------
        passed : bool array of shape (m,)
        """
        s = np.asarray(scores)
        if s.ndim != 2 or s.shape[1] != len(self.criteria):
            raise ValueError(f"scores must have shape (m, {len(self.criteria)}), got {s.shape}")
        rule = self.pass_rule
        ok = np.ones(s.shape[0], dtype=bool)
        if rule.every_criterion_at_least is not None:
            ok &= (s >= rule.every_criterion_at_least).all(axis=1)
        for cid, minimum in rule.criteria_at_least.items():
            ok &= s[:, self.criterion_ids.index(cid)] >= minimum
        if rule.total_at_least is not None:
            ok &= s.sum(axis=1) >= rule.total_at_least
        return ok

    def to_dict(self) -> dict[str, Any]:
        """The rubric as plain data, in the shape of the YAML file (levels as scores)."""
        rule: dict[str, Any] = {}
        if self.pass_rule.every_criterion_at_least is not None:
            rule["every_criterion_at_least"] = self.pass_rule.every_criterion_at_least
        if self.pass_rule.criteria_at_least:
            rule["criteria_at_least"] = dict(self.pass_rule.criteria_at_least)
        if self.pass_rule.total_at_least is not None:
            rule["total_at_least"] = self.pass_rule.total_at_least
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "competency": self.competency,
            "levels": [lv.model_dump() for lv in self.levels],
            "parts": [p.model_dump() for p in self.parts],
            "criteria": [
                {
                    **c.model_dump(exclude={"descriptors"}),
                    "descriptors": {str(k): v for k, v in c.descriptors.items()},
                }
                for c in self.criteria
            ],
            "pass_rule": rule,
        }

    def content_hash(self) -> str:
        """SHA-256 of the canonical content: equal hashes mean the same rubric version."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


def load_rubric(path: str | Path) -> Rubric:
    """Read and validate one rubric file.

    Raises
    ------
    ValidationError
        Listing every problem with file, line and field path.
    """
    path = Path(path)
    data, locate = read_yaml(path)
    return rubric_from_data(data, source=str(path), locate=locate)


def load_rubrics(path: str | Path) -> list[Rubric]:
    """Read one rubric file, or every ``*.yaml`` rubric in a folder (all problems at once)."""
    path = Path(path)
    if path.is_file():
        return [load_rubric(path)]
    if not path.is_dir():
        raise ValidationError([Problem(str(path), "no such file or folder")])
    files = sorted(path.glob("*.yaml"))
    if not files:
        raise ValidationError([Problem(str(path), "no rubric files (*.yaml) in this folder")])
    rubrics: list[Rubric] = []
    problems: list[Problem] = []
    for file in files:
        try:
            rubrics.append(load_rubric(file))
        except ValidationError as exc:
            problems.extend(exc.problems)
    seen: dict[tuple[str, int], str] = {}
    for r in rubrics:
        if (r.id, r.version) in seen:
            problems.append(Problem(str(path), f"rubric {r.key} defined twice", field="id"))
        seen[(r.id, r.version)] = r.key
    if problems:
        raise ValidationError(problems)
    return rubrics


def rubric_from_data(data: Any, *, source: str, locate: Locator | None = None) -> Rubric:
    """Validate already-parsed rubric data (see :func:`load_rubric`)."""
    where = locate or (lambda _path: None)

    def problem(path: Sequence[str | int], message: str) -> Problem:
        return Problem(source, message, where(path), format_path(path) or None)

    if not isinstance(data, dict):
        raise ValidationError([problem((), "a rubric file must be a mapping of fields")])
    key_problems = [problem(path, message) for path, message in _descriptor_key_clashes(data)]
    try:
        raw = _RubricFile.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(
            key_problems + [problem(e["loc"], pydantic_message(e)) for e in exc.errors()]
        ) from None
    if key_problems:
        raise ValidationError(key_problems)

    problems: list[Problem] = []
    scores = [lv.score for lv in raw.levels]
    if len(set(scores)) != len(scores):
        dup = sorted({s for s in scores if scores.count(s) > 1})
        problems.append(problem(("levels",), f"duplicate level score(s) {dup}"))
    elif scores != list(range(min(scores), min(scores) + len(scores))):
        problems.append(
            problem(
                ("levels",),
                f"level scores must be consecutive integers listed lowest first, got {scores}",
            )
        )
    labels = [lv.label for lv in raw.levels]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        problems.append(problem(("levels",), f"duplicate level label {label!r}"))

    part_ids = [p.id for p in raw.parts]
    for i, pid in enumerate(part_ids):
        if part_ids.index(pid) != i:
            problems.append(problem(("parts", i, "id"), f"duplicate part id {pid!r}"))
    crit_ids = [c.id for c in raw.criteria]
    for i, c in enumerate(raw.criteria):
        if crit_ids.index(c.id) != i:
            problems.append(problem(("criteria", i, "id"), f"duplicate criterion id {c.id!r}"))
        if raw.parts and c.part is None:
            problems.append(
                problem(
                    ("criteria", i, "part"),
                    "criterion must name its part when the rubric has parts",
                )
            )
        if c.part is not None and c.part not in part_ids:
            problems.append(problem(("criteria", i, "part"), f"unknown part {c.part!r}"))
        for s in scores:
            if s not in c.descriptors:
                problems.append(
                    problem(
                        ("criteria", i, "descriptors"),
                        f"missing descriptor for level {s} ({labels[scores.index(s)]})",
                    )
                )
        for s in c.descriptors:
            if s not in scores:
                problems.append(
                    problem(
                        ("criteria", i, "descriptors", str(s)), f"descriptor for unknown level {s}"
                    )
                )
        for s, text in c.descriptors.items():
            if s in scores and not text.strip():
                problems.append(
                    problem(("criteria", i, "descriptors", str(s)), "descriptor is empty")
                )

    rule, rule_problems = _pass_rule(raw.pass_rule, raw.levels, crit_ids, problem)
    problems += rule_problems
    if problems:
        raise ValidationError(problems)
    return Rubric(
        id=raw.id,
        version=raw.version,
        title=raw.title,
        competency=raw.competency,
        levels=tuple(raw.levels),
        parts=tuple(raw.parts),
        criteria=tuple(raw.criteria),
        pass_rule=rule,
    )


_LEVEL_KEY: TypeAdapter[int] = TypeAdapter(int)


def _descriptor_key_clashes(data: dict[Any, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Descriptor keys that name the same level once read as integers (``1``, ``"01"``, ``" 1"``,
    ``1.0``, ``True``), which would silently overwrite one another; and boolean keys.

    Keys equal as YAML values (``1``, ``0x1``, ``01``) are already refused as duplicate keys by
    :func:`calibrate.yamlfile.read_yaml`; this catches the keys YAML keeps apart but the integer
    ``descriptors`` mapping merges.
    """
    found: list[tuple[tuple[str | int, ...], str]] = []
    criteria = data.get("criteria")
    if not isinstance(criteria, list):
        return found
    for i, criterion in enumerate(criteria):
        descriptors = criterion.get("descriptors") if isinstance(criterion, dict) else None
        if not isinstance(descriptors, dict):
            continue
        first: dict[int, Any] = {}
        for key in descriptors:
            path = ("criteria", i, "descriptors", str(key))
            if isinstance(key, bool):
                found.append((path, f"level key {key!r} is not a level score"))
                continue
            try:
                level = _LEVEL_KEY.validate_python(key)
            except PydanticValidationError:
                continue  # reported by the model
            if level in first:
                found.append(
                    (
                        path,
                        f"descriptor keys {first[level]!r} and {key!r} both name level {level}; "
                        "give each level one descriptor",
                    )
                )
            else:
                first[level] = key
    return found


def _pass_rule(
    data: dict[str, Any], levels: list[Level], criteria: list[str], problem: Any
) -> tuple[PassRule, list[Problem]]:
    problems: list[Problem] = []
    known = {"every_criterion_at_least", "criteria_at_least", "total_at_least"}
    for key in data:
        if key not in known:
            problems.append(
                problem(
                    ("pass_rule", key),
                    f"unknown pass-rule condition (known: {', '.join(sorted(known))})",
                )
            )
    if not known & set(data):
        problems.append(problem(("pass_rule",), "pass rule needs at least one condition"))

    def level(value: Any, path: tuple[str | int, ...]) -> int | None:
        for lv in levels:
            if (isinstance(value, int) and not isinstance(value, bool) and value == lv.score) or (
                isinstance(value, str) and value.strip().casefold() == lv.label.casefold()
            ):
                return lv.score
        names = ", ".join(f"{lv.score} ({lv.label})" for lv in levels)
        problems.append(problem(path, f"unknown level {value!r}; levels are {names}"))
        return None

    every = None
    if data.get("every_criterion_at_least") is not None:
        every = level(data["every_criterion_at_least"], ("pass_rule", "every_criterion_at_least"))
    named: dict[str, int] = {}
    raw_named = data.get("criteria_at_least") or {}
    if not isinstance(raw_named, dict):
        problems.append(
            problem(("pass_rule", "criteria_at_least"), "must map criterion ids to levels")
        )
        raw_named = {}
    for cid, value in raw_named.items():
        path = ("pass_rule", "criteria_at_least", str(cid))
        if cid not in criteria:
            problems.append(problem(path, f"unknown criterion {cid!r}"))
            continue
        score = level(value, path)
        if score is not None:
            named[cid] = score
    total = data.get("total_at_least")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool)):
        problems.append(problem(("pass_rule", "total_at_least"), "must be an integer"))
        total = None
    if total is not None and levels and not problems:
        top = max(lv.score for lv in levels)
        if total > top * len(criteria):
            problems.append(
                problem(
                    ("pass_rule", "total_at_least"),
                    f"no submission can meet this pass rule: total {total} is above the maximum "
                    f"{top * len(criteria)} ({len(criteria)} criteria x top level {top})",
                )
            )
    return PassRule(
        every_criterion_at_least=every, criteria_at_least=named, total_at_least=total
    ), problems
