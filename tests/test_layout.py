"""Imports point inward (STYLE.md guideline 2): the layout shows the data flow.

inputs (rubric, anchors, ratings) -> statistics -> use cases -> outer ring (store, CLI, dashboard).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "calibrate"

# What each part of the package may import, besides the standard library.
ALLOWED = {
    "stats": {"numpy", "scipy", "krippendorff", "calibrate.errors", "calibrate.stats"},
    "inputs": {
        "numpy",
        "pandas",
        "pyarrow",
        "pydantic",
        "yaml",
        "calibrate.errors",
        "calibrate.yamlfile",
        "calibrate.rubric",
    },
}
INPUTS = ("rubric.py", "anchors.py", "ratings.py", "yamlfile.py", "errors.py")
OUTER = (
    "streamlit",
    "typer",
    "sqlmodel",
    "sqlalchemy",
    "alembic",
    "calibrate.store",
    "calibrate.cli",
    "calibrate.dashboard",
    "calibrate.models",
)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def third_party_or_own(name: str) -> bool:
    import sys

    return name.split(".")[0] not in sys.stdlib_module_names and name != "__future__"


def allowed(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@pytest.mark.parametrize("path", sorted((SRC / "stats").glob("*.py")), ids=lambda p: p.name)
def test_statistics_core_imports_only_numerics(path: Path) -> None:
    bad = {n for n in imports(path) if third_party_or_own(n) and not allowed(n, ALLOWED["stats"])}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", INPUTS)
def test_inputs_know_nothing_of_storage_or_doors(name: str) -> None:
    found = imports(SRC / name)
    bad = {n for n in found if third_party_or_own(n) and not allowed(n, ALLOWED["inputs"])}
    assert not bad, f"{name} imports {sorted(bad)}"


@pytest.mark.parametrize("name", ["agreement_report.py", "rater_report.py", "simulate.py"], ids=str)
def test_use_cases_do_not_import_the_doors(name: str) -> None:
    found = imports(SRC / name)
    assert not {n for n in found if allowed(n, set(OUTER))}, sorted(found)
