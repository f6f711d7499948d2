"""Read a YAML file together with the line of every field, so validation can point at it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from calibrate.errors import Problem, ValidationError

FieldPath = Sequence[str | int]
Locator = Callable[[FieldPath], int | None]


def format_path(path: FieldPath) -> str:
    """``("criteria", 2, "descriptors", 3)`` -> ``"criteria[2].descriptors.3"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def read_yaml(path: Path) -> tuple[Any, Locator]:
    """Parse ``path``; return the data and a function giving the 1-based line of a field path.

    Raises :class:`ValidationError` for unreadable files, YAML syntax errors and duplicate keys
    (which plain YAML loaders silently resolve to the last value).
    """
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValidationError([Problem(source, "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ValidationError([Problem(source, f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character YAML does not allow
        message = f"invalid YAML: control character U+{exc.character:04X} is not allowed"
        at = text.count("\n", 0, exc.position) + 1
        raise ValidationError([Problem(source, message, at)]) from None
    try:  # one parse: the node tree gives the lines and is built into the data
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ValidationError([Problem(source, f"invalid YAML: {exc.problem}", line)]) from None
    finally:
        loader.dispose()
    lines: dict[tuple[str | int, ...], int] = {}
    problems: list[Problem] = []
    if node is not None:
        _index(node, (), lines, problems, source)
    if problems:
        raise ValidationError(problems)

    def locate(field: FieldPath) -> int | None:
        key = tuple(field)
        while key:
            if key in lines:
                return lines[key]
            key = key[:-1]
        return lines.get(())

    return data, locate


def _index(
    node: yaml.Node,
    path: tuple[str | int, ...],
    lines: dict[tuple[str | int, ...], int],
    problems: list[Problem],
    source: str,
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)  # a mapping value: keep its key's line
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                problems.append(
                    Problem(
                        source,
                        f"duplicate key {key!r}",
                        key_node.start_mark.line + 1,
                        format_path((*path, key)),
                    )
                )
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            if key.isdigit():  # pydantic reports int-keyed mappings (descriptors) with int keys
                lines[(*path, int(key))] = key_node.start_mark.line + 1
            _index(value_node, (*path, key), lines, problems, source)

    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, problems, source)


def pydantic_message(err: Mapping[str, Any]) -> str:
    """A plain-language message for one pydantic error (its ``loc`` becomes the field path)."""
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":
        return "must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}"
    return str(err["msg"])
