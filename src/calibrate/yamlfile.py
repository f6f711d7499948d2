"""Read a YAML file together with the line of every field, so validation can point at it.

Rubrics and anchor sets are small, reviewed files, so reading them is bounded: at most
:data:`MAX_YAML_BYTES` bytes, :data:`MAX_YAML_DEPTH` levels of nesting, integers of at most
:data:`MAX_INT_CHARS` characters, and no aliases (``*name``; the shipped files use none). A file
beyond a bound is refused with a :class:`~calibrate.errors.ValidationError`, before a crafted
file (an alias "billion laughs", thousands of nested brackets) can exhaust memory or the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from calibrate.errors import Problem, ValidationError

FieldPath = Sequence[str | int]
Locator = Callable[[FieldPath], int | None]

MAX_YAML_BYTES = 2_000_000  # the shipped files are 5-25 kB
MAX_YAML_DEPTH = 64  # nested mappings and sequences; the shipped files nest 5 deep
MAX_INT_CHARS = 32  # characters of an integer (base-60 ints grow huge numbers from short texts)


def format_path(path: FieldPath) -> str:
    """``("criteria", 2, "descriptors", 3)`` -> ``"criteria[2].descriptors.3"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases, deep nesting and overlong integers."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None,
                None,
                f"aliases (*{event.anchor}) are not allowed; write the value out",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # refused while scanning: the scanner looks ahead up to 1024 characters for a simple key
        if self.flow_level >= MAX_YAML_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", self.get_mark()
            )
        super().fetch_flow_collection_start(TokenClass)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(str(node.value)) > MAX_INT_CHARS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"integer of {len(str(node.value))} characters is too long "
                f"(at most {MAX_INT_CHARS})",
                node.start_mark,
            )
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def read_yaml(path: Path) -> tuple[Any, Locator]:
    """Parse ``path``; return the data and a function giving the 1-based line of a field path.

    Raises :class:`ValidationError` for unreadable files, files beyond the bounds above, YAML
    syntax errors and duplicate keys (which plain YAML loaders silently resolve to the last value;
    keys are compared as loaded, so ``1`` and ``0x1`` are the same key).
    """
    source = str(path)
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_YAML_BYTES + 1)
    except FileNotFoundError:
        raise ValidationError([Problem(source, "file not found")]) from None
    except IsADirectoryError:
        raise ValidationError([Problem(source, "is a folder, not a YAML file")]) from None
    except OSError as exc:
        raise ValidationError([Problem(source, f"cannot read: {exc.strerror or exc}")]) from None
    if len(raw) > MAX_YAML_BYTES:
        raise ValidationError(
            [Problem(source, f"file is larger than {MAX_YAML_BYTES:,} bytes (the YAML limit)")]
        )
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as exc:
        raise ValidationError([Problem(source, f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character YAML does not allow
        message = f"invalid YAML: control character U+{exc.character:04X} is not allowed"
        at = text.count("\n", 0, exc.position) + 1
        raise ValidationError([Problem(source, message, at)]) from None
    lines: dict[tuple[str | int, ...], int] = {}
    problems: list[Problem] = []
    try:  # one parse: the node tree gives the lines and is built into the data
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        if node is not None:
            _index(node, (), lines, problems, source, loader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ValidationError([Problem(source, f"invalid YAML: {exc.problem}", line)]) from None
    finally:
        loader.dispose()
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
    loader: _BoundedLoader,
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)  # a mapping value: keep its key's line
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            value = (
                loader.construct_object(key_node, deep=True)
                if isinstance(key_node, yaml.ScalarNode)
                else key
            )
            first = seen.get(value)
            if first is not None:
                message = f"duplicate key {key!r}"
                if first.value != key_node.value:  # 1 and 0x1, yes and true...
                    message += (
                        f" (the same key as {first.value!r} on line {first.start_mark.line + 1})"
                    )
                problems.append(Problem(source, message, line, format_path((*path, key))))
            else:
                seen[value] = key_node
            lines[(*path, key)] = line
            number = _as_int(value)
            if number is not None:  # pydantic reports int-keyed mappings (descriptors) with ints
                lines[(*path, number)] = line
            _index(value_node, (*path, key), lines, problems, source, loader)

    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, problems, source, loader)


def _as_int(key: Any) -> int | None:
    """The int a mapping key stands for as a pydantic ``dict[int, ...]`` key, if plainly one."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.isascii() and key.isdigit() and len(key) <= MAX_INT_CHARS:
        return int(key)
    return None


def pydantic_message(err: Mapping[str, Any]) -> str:
    """A plain-language message for one pydantic error (its ``loc`` becomes the field path)."""
    kind = err["type"]
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "string_pattern_mismatch":
        return "must be lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
    if kind == "string_too_long":
        return f"must be at most {err['ctx']['max_length']} characters"
    if kind == "literal_error":
        return f"must be {err['ctx']['expected']}"
    return str(err["msg"])
