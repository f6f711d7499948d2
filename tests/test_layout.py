"""Imports point inward (STYLE.md guideline 2): the layout shows the data flow, for every module.

inputs (rubric, anchors, ratings files) -> stats (pure) -> analyses (use cases over ratings) ->
rules (programme rules as data) -> flags (statistics weighed against the rules), and the
simulator -> store -> services -> doors (CLI, dashboard, reports). Each module belongs to one
layer and may import only what its layer allows; the doors import inner layers for type
annotations only (under ``TYPE_CHECKING``), so at run time they reach the store and the
estimators through the services alone.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "calibrate"

INPUTS = {"calibrate.rubric", "calibrate.anchors", "calibrate.ratings", "calibrate.yamlfile"}
BASE = {"calibrate.errors"}
NUMERIC = {"numpy", "scipy", "krippendorff"}
DATA = {"pandas", "pyarrow", "pydantic", "yaml"}
DATABASE = {"sqlalchemy", "sqlmodel", "alembic", "psycopg"}

# The layers, innermost first: which modules belong to each (by dotted prefix), and what they
# may import at run time besides the standard library.
LAYERS: dict[str, tuple[set[str], set[str]]] = {
    "base": (
        {"calibrate", "calibrate.errors", "calibrate.settings"},
        {"pydantic", "pydantic_settings"} | BASE,
    ),
    "inputs": (INPUTS, NUMERIC | DATA | BASE | INPUTS),
    "stats": ({"calibrate.stats"}, NUMERIC | BASE | {"calibrate.stats"}),
    "analyses": (
        {"calibrate.analyses"},
        NUMERIC | DATA | BASE | INPUTS | {"calibrate.stats", "calibrate.analyses"},
    ),
    "rules": (
        {"calibrate.rules", "calibrate.access", "calibrate.workflow"},
        NUMERIC | BASE | INPUTS | {"calibrate.rules"},
    ),
    # flags weigh the use cases' statistics against the programme rules' thresholds
    "flags": (
        {"calibrate.flags"},
        NUMERIC | BASE | INPUTS | {"calibrate.stats", "calibrate.analyses", "calibrate.rules"},
    ),
    "simulate": (
        {"calibrate.simulate"},
        NUMERIC | BASE | INPUTS | {"calibrate.stats", "calibrate.rules", "calibrate.workflow"},
    ),
    "store": (
        {"calibrate.store"},
        NUMERIC | DATA | DATABASE | BASE | INPUTS | {"calibrate.settings", "calibrate.store"},
    ),
    "services": (
        {"calibrate.services"},
        NUMERIC
        | DATA
        | {"sqlalchemy"}
        | BASE
        | INPUTS
        | {
            "calibrate.settings",
            "calibrate.stats",
            "calibrate.analyses",
            "calibrate.rules",
            "calibrate.workflow",
            "calibrate.flags",
            "calibrate.access",
            "calibrate.simulate",
            "calibrate.store",
            "calibrate.services",
            "argon2",
        },
    ),
    "doors": (
        {"calibrate.__main__", "calibrate.cli", "calibrate.dashboard", "calibrate.report"},
        {"typer", "click", "streamlit", "altair", "pandas", "numpy"}
        | BASE
        | {
            "calibrate.settings",
            "calibrate.rules",
            "calibrate.access",
            "calibrate.services",
            "calibrate.cli",
            "calibrate.dashboard",
            "calibrate.report",
        },
    ),
}


def module_name(path: Path) -> str:
    parts = ("calibrate", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def under(name: str, prefixes: set[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def layer_of(name: str) -> str:
    # The most specific prefix wins ("calibrate" itself is only the package's __init__).
    found = [
        (len(p), layer)
        for layer, (members, _) in LAYERS.items()
        for p in members
        if name == p or (p != "calibrate" and name.startswith(p + "."))
    ]
    if not found:
        raise AssertionError(f"{name} belongs to no layer: add it to LAYERS in {__file__}")
    return max(found)[1]


def runtime_imports(path: Path) -> set[str]:
    """Absolute imports executed at run time (inside functions too), leaving out those under
    ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text())
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only.update(id(n) for child in node.body for n in ast.walk(child))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "calibrate":  # from calibrate import services
                found.update(f"calibrate.{alias.name}" for alias in node.names)
    return {n for n in found if n.split(".")[0] not in sys.stdlib_module_names} - {"__future__"}


MODULES = sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_every_module_imports_only_inward(path: Path) -> None:
    name = module_name(path)
    layer = layer_of(name)
    allowed = LAYERS[layer][1]
    bad = {n for n in runtime_imports(path) if n != "calibrate" and not under(n, allowed)}
    assert not bad, f"{name} ({layer} layer) imports {sorted(bad)}"


def test_the_rule_catches_a_door_reaching_the_store(tmp_path: Path) -> None:
    """The check can fail: a door importing the store at run time is caught, one importing it
    for annotations only is not."""
    door = tmp_path / "door.py"
    door.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from calibrate.stats.rasch import RaschResult\n"
        "def f():\n    from calibrate.store import load_ratings\n"
    )
    found = runtime_imports(door)
    assert found == {"calibrate.store"}
    assert not under("calibrate.store", LAYERS["doors"][1])


def test_every_layer_has_modules() -> None:
    """No layer of the map is empty (a renamed package would otherwise slip out of the test)."""
    layers = {layer_of(module_name(p)) for p in MODULES}
    assert layers == set(LAYERS)
