"""Anchor sets: submissions scored by expert consensus, with a rationale per criterion.

Each anchor serves one purpose: *practice* (feedback shown), *qualification* (the round an assessor
must pass) or *validity* (seeded unannounced into live queues). An anchor set names the rubric
version it was scored under and is validated against it (format: ``docs/formats.md``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError

from calibrate.errors import Problem, ValidationError
from calibrate.rubric import ID_PATTERN, MAX_ID_LENGTH, MAX_VERSION, Rubric
from calibrate.yamlfile import Locator, format_path, pydantic_message, read_yaml

Purpose = Literal["practice", "qualification", "validity"]
PURPOSES: tuple[Purpose, ...] = ("practice", "qualification", "validity")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Artifact(_Model):
    """The evidence an anchor shows: a title and an excerpt and/or a description."""

    title: StrictStr = Field(min_length=1)
    excerpt: StrictStr | None = None
    description: StrictStr | None = None


class Anchor(_Model):
    """One anchor submission with its expert score and rationale per criterion."""

    id: StrictStr = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    purpose: Purpose
    artifact: Artifact
    scores: dict[str, StrictInt]
    rationale: dict[str, StrictStr]


class _AnchorIn(_Model):
    id: StrictStr = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    purpose: Purpose | None = None
    artifact: Artifact
    scores: dict[str, StrictInt]
    rationale: dict[str, StrictStr]


class _AnchorSetFile(_Model):
    id: StrictStr = Field(pattern=ID_PATTERN, max_length=MAX_ID_LENGTH)
    rubric: StrictStr = Field(max_length=MAX_ID_LENGTH)
    rubric_version: StrictInt = Field(ge=1, le=MAX_VERSION)
    title: StrictStr = Field(min_length=1)
    purpose: Purpose | None = None
    anchors: list[_AnchorIn] = Field(min_length=1)


@dataclass(frozen=True)
class AnchorSet:
    """A validated anchor set for one rubric version.

    ``source`` is where it was read from (a file, or ``store:<id>``), for messages; it takes no
    part in comparisons.
    """

    id: str
    rubric_id: str
    rubric_version: int
    title: str
    anchors: tuple[Anchor, ...]
    source: str = dataclasses.field(default="", compare=False)

    @property
    def rubric_key(self) -> str:
        return f"{self.rubric_id}@{self.rubric_version}"

    def with_purpose(self, purpose: Purpose) -> tuple[Anchor, ...]:
        return tuple(a for a in self.anchors if a.purpose == purpose)

    def expert_scores(self, criteria: Sequence[str]) -> NDArray[np.int64]:
        """Expert scores, shape (n_anchors, n_criteria), columns in ``criteria`` order."""
        return np.array([[a.scores[c] for c in criteria] for a in self.anchors], dtype=np.int64)


def load_anchor_set(
    path: str | Path, rubric: Rubric | Mapping[tuple[str, int], Rubric]
) -> AnchorSet:
    """Read and validate an anchor-set file against the rubric version it names.

    ``rubric`` is the rubric, or a mapping ``(id, version) -> Rubric`` to choose from.
    """
    path = Path(path)
    data, locate = read_yaml(path)
    return anchor_set_from_data(data, rubric, source=str(path), locate=locate)


def anchor_set_from_data(
    data: Any,
    rubric: Rubric | Mapping[tuple[str, int], Rubric],
    *,
    source: str,
    locate: Locator | None = None,
) -> AnchorSet:
    """Validate already-parsed anchor-set data (see :func:`load_anchor_set`)."""
    where = locate or (lambda _path: None)

    def problem(path: Sequence[str | int], message: str) -> Problem:
        return Problem(source, message, where(path), format_path(path) or None)

    if not isinstance(data, dict):
        raise ValidationError([problem((), "an anchor-set file must be a mapping of fields")])
    try:
        raw = _AnchorSetFile.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError(
            [problem(e["loc"], pydantic_message(e)) for e in exc.errors()]
        ) from None

    rubrics = {(rubric.id, rubric.version): rubric} if isinstance(rubric, Rubric) else rubric
    target = rubrics.get((raw.rubric, raw.rubric_version))
    if target is None:
        known = ", ".join(sorted(f"{i}@{v}" for i, v in rubrics)) or "none"
        raise ValidationError(
            [
                problem(
                    ("rubric_version",),
                    f"unknown rubric version {raw.rubric}@{raw.rubric_version} (known: {known})",
                )
            ]
        )

    problems: list[Problem] = []
    criteria = target.criterion_ids
    scores = target.scores
    seen: set[str] = set()
    anchors: list[Anchor] = []
    for i, a in enumerate(raw.anchors):
        base: tuple[str | int, ...] = ("anchors", i)
        if a.id in seen:
            problems.append(problem((*base, "id"), f"duplicate anchor id {a.id!r}"))
        seen.add(a.id)
        purpose = a.purpose or raw.purpose
        if purpose is None:
            problems.append(
                problem((*base, "purpose"), "purpose missing (and the set gives no default)")
            )
        if not (a.artifact.excerpt or a.artifact.description):
            problems.append(
                problem((*base, "artifact"), "artifact needs an excerpt or a description")
            )
        for field, values in (("scores", a.scores), ("rationale", a.rationale)):
            for c in criteria:
                if c not in values:
                    problems.append(problem((*base, field), f"missing {field} for criterion {c!r}"))
            for c in values:
                if c not in criteria:
                    problems.append(
                        problem((*base, field, c), f"unknown criterion {c!r} for {target.key}")
                    )
        for c, s in a.scores.items():
            if c in criteria and s not in scores:
                problems.append(
                    problem(
                        (*base, "scores", c),
                        f"score {s} is not a level of {target.key} "
                        f"(levels {min(scores)}-{max(scores)})",
                    )
                )
        for c, text in a.rationale.items():
            if not text.strip():
                problems.append(problem((*base, "rationale", c), "rationale is empty"))
        if purpose is not None:
            anchors.append(
                Anchor(
                    id=a.id,
                    purpose=purpose,
                    artifact=a.artifact,
                    scores=a.scores,
                    rationale=a.rationale,
                )
            )
    if problems:
        raise ValidationError(problems)
    return AnchorSet(
        id=raw.id,
        rubric_id=raw.rubric,
        rubric_version=raw.rubric_version,
        title=raw.title,
        anchors=tuple(anchors),
        source=source,
    )


def load_anchor_sets(
    directory: str | Path, rubrics: Mapping[tuple[str, int], Rubric]
) -> list[AnchorSet]:
    """Read every ``<rubric-id>/*.yaml`` under ``directory``; all problems reported together.

    Anchor ids must be unique across the sets of a rubric.

    Raises
    ------
    ValidationError
        No such folder, no anchor-set file in it, or any problem with the files.
    """
    if not Path(directory).is_dir():
        raise ValidationError([Problem(str(directory), "no such folder")])
    files = sorted(Path(directory).glob("*/*.yaml"))
    if not files:
        raise ValidationError(
            [Problem(str(directory), "no anchor-set files (<rubric-id>/*.yaml) in this folder")]
        )
    sets, problems = _read_sets(files, rubrics)
    owner: dict[tuple[str, str], str] = {}
    set_ids: set[str] = set()
    for s in sets:
        if s.id in set_ids:
            problems.append(
                Problem(str(directory), f"anchor set id {s.id!r} used twice", field="id")
            )
        set_ids.add(s.id)
        for a in s.anchors:
            key = (s.rubric_id, a.id)
            if key in owner:
                problems.append(
                    Problem(
                        str(directory),
                        f"anchor id {a.id!r} in both {owner[key]} and {s.id}",
                        field="anchors.id",
                    )
                )
            owner[key] = s.id
    if problems:
        raise ValidationError(problems)
    return sets


def load_anchor_set_files(
    files: Sequence[Path], rubrics: Mapping[tuple[str, int], Rubric]
) -> list[AnchorSet]:
    """Read anchor-set files, all problems of all of them reported together.

    Raises
    ------
    ValidationError
        Every problem in the files.
    """
    sets, problems = _read_sets(files, rubrics)
    if problems:
        raise ValidationError(problems)
    return sets


def _read_sets(
    files: Sequence[Path], rubrics: Mapping[tuple[str, int], Rubric]
) -> tuple[list[AnchorSet], list[Problem]]:
    """The sets that read cleanly, and every problem of the others."""
    sets: list[AnchorSet] = []
    problems: list[Problem] = []
    for path in files:
        try:
            sets.append(load_anchor_set(path, rubrics))
        except ValidationError as exc:
            problems.extend(exc.problems)
    return sets, problems
