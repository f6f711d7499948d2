"""Services: one function per job, called by every door (CLI, dashboard, reports).

The only layer that combines the store with the use cases over ratings, and the place where role
checks sit: a door opens the store (:func:`connected`), calls one service and shows its typed
result, so the doors never diverge.

- :mod:`~calibrate.services.connection`: open the store, its status
- :mod:`~calibrate.services.definitions`: rubrics and anchor sets
- :mod:`~calibrate.services.ratings`: rating imports, corrections, history
- :mod:`~calibrate.services.analyses`: agreement, rater effects, reliability, accuracy
- :mod:`~calibrate.services.rules`: the programme rules in force
- :mod:`~calibrate.services.demo`: simulated programmes and the demo

Each name is imported from its module on first use (:pep:`562`), so a command loads only what
its job needs: an analysis of a file never imports the store (SQLAlchemy, SQLModel, Alembic).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from calibrate.services.analyses import (
        Agreement,
        accuracy_from_files,
        agreement,
        rater_effects,
        reliability,
        repeated_readings,
        select_ratings,
        stored_accuracy,
        stored_selection,
    )
    from calibrate.services.connection import connected, open_store, store_status
    from calibrate.services.definitions import import_definitions, rubrics, validate_definitions
    from calibrate.services.demo import build_demo, simulate, simulate_demo, store_demo
    from calibrate.services.ratings import correct, history, import_ratings
    from calibrate.services.rules import programme_rules

__all__ = [
    "Agreement",
    "accuracy_from_files",
    "agreement",
    "build_demo",
    "connected",
    "correct",
    "history",
    "import_definitions",
    "import_ratings",
    "open_store",
    "programme_rules",
    "rater_effects",
    "reliability",
    "repeated_readings",
    "rubrics",
    "select_ratings",
    "simulate",
    "simulate_demo",
    "store_demo",
    "store_status",
    "stored_accuracy",
    "stored_selection",
    "validate_definitions",
]

_MODULE_OF = {
    **dict.fromkeys(
        (
            "Agreement",
            "accuracy_from_files",
            "agreement",
            "rater_effects",
            "reliability",
            "repeated_readings",
            "select_ratings",
            "stored_accuracy",
            "stored_selection",
        ),
        "analyses",
    ),
    **dict.fromkeys(("connected", "open_store", "store_status"), "connection"),
    **dict.fromkeys(("import_definitions", "rubrics", "validate_definitions"), "definitions"),
    **dict.fromkeys(("build_demo", "simulate", "simulate_demo", "store_demo"), "demo"),
    **dict.fromkeys(("correct", "history", "import_ratings"), "ratings"),
    "programme_rules": "rules",
}
"""The module of each exported name."""


def __getattr__(name: str) -> object:
    """Import an exported name from its module on first use, then keep it here."""
    try:
        module = _MODULE_OF[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
